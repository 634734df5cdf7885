//! Retry schedules: when the next attempt of a failed delivery is due.
//!
//! Follows Hookdeck's retry rule: `linear` waits `interval` between attempts,
//! `exponential` doubles it each time; `count` is the number of automatic retries
//! after the first attempt. A destination's `Retry-After` wins over the schedule (it
//! knows when it will be ready), bounded so a hostile value cannot park an event for
//! years.

use serde::{Deserialize, Serialize};

/// Longest delay the schedule or a `Retry-After` can produce: one week.
pub const MAX_DELAY_MS: u64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryStrategy {
    Linear,
    Exponential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    pub strategy: RetryStrategy,
    /// Base wait between attempts, in milliseconds.
    pub interval_ms: u64,
    /// Automatic retries after the first attempt.
    pub count: u32,
}

impl RetrySchedule {
    /// Delay before the next attempt, given how many attempts were already made
    /// (1 after the first failure). `None` once the retries are used up.
    pub fn delay_after(&self, attempts_made: u32) -> Option<u64> {
        if attempts_made == 0 || attempts_made > self.count {
            return None;
        }
        let delay = match self.strategy {
            RetryStrategy::Linear => self.interval_ms,
            RetryStrategy::Exponential => {
                let doublings = (attempts_made - 1).min(40);
                self.interval_ms.saturating_mul(1u64 << doublings)
            }
        };
        Some(delay.min(MAX_DELAY_MS))
    }
}

/// Parses a `Retry-After` value (delta-seconds or an HTTP date) into a delay in
/// milliseconds from `now_ms`, capped at [`MAX_DELAY_MS`]. Dates in the past give 0.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000).min(MAX_DELAY_MS));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis()
        .min(u128::from(u64::MAX)) as u64;
    Some(at_ms.saturating_sub(now_ms).min(MAX_DELAY_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_waits_the_same_and_stops_after_count() {
        let s = RetrySchedule {
            strategy: RetryStrategy::Linear,
            interval_ms: 1000,
            count: 2,
        };
        assert_eq!(s.delay_after(1), Some(1000));
        assert_eq!(s.delay_after(2), Some(1000));
        assert_eq!(s.delay_after(3), None);
    }

    #[test]
    fn exponential_doubles_and_is_capped() {
        let s = RetrySchedule {
            strategy: RetryStrategy::Exponential,
            interval_ms: 1000,
            count: 100,
        };
        assert_eq!(s.delay_after(1), Some(1000));
        assert_eq!(s.delay_after(2), Some(2000));
        assert_eq!(s.delay_after(4), Some(8000));
        assert_eq!(s.delay_after(60), Some(MAX_DELAY_MS));
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("120", 0), Some(120_000));
        let now = 1_445_412_480_000; // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(30_000)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(0)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("99999999999", 0), Some(MAX_DELAY_MS));
    }
}
