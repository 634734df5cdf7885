//! Pacing of a destination's attempts: how many may start now under a rate and a
//! cap on attempts in flight, and when each of them starts.
//!
//! The rate is GCRA with a burst of one: attempts start evenly spaced (`period / n`
//! apart), so no window of any length sees more than its share. Its whole state is
//! one number, the earliest time the next attempt may start, which is what lets
//! replicas share a limit through a single database row.

/// A destination's limits, as pacing needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Microseconds between two attempts' starts.
    pub spacing_us: Option<i64>,
    /// Attempts in flight at once.
    pub max_in_flight: Option<i64>,
}

impl Limits {
    /// `n` attempts per `period_us`; `None` for a rate of 0.
    pub fn spacing(n: i64, period_us: i64) -> Option<i64> {
        (n > 0).then(|| (period_us / n).max(1))
    }
}

/// What may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// How many attempts may start.
    pub count: i64,
    /// When the first of them starts (µs, the clock `now_us` was read on); the
    /// others follow `spacing_us` apart.
    pub first_start_us: i64,
    /// When asking again can grant more, if the rate is what stopped it (µs, same
    /// clock). `None` when only the cap on attempts in flight did.
    pub retry_at_us: Option<i64>,
}

impl Grant {
    /// Start time of the `i`th attempt granted.
    pub fn start_of(&self, i: i64, limits: &Limits) -> i64 {
        self.first_start_us + i * limits.spacing_us.unwrap_or(0)
    }

    /// The next-start state to store after `used` of the granted attempts started
    /// (those not used give their slots back).
    pub fn next_at_after(&self, used: i64, limits: &Limits, prior_next_at_us: i64) -> i64 {
        match limits.spacing_us {
            Some(s) if used > 0 => self.first_start_us + used * s,
            _ => prior_next_at_us,
        }
    }
}

/// Grants up to `want` attempts. `next_at_us` is the stored earliest start of the
/// next attempt, `in_flight` the attempts already running. Attempts may be
/// granted to start up to `horizon_us` from now, so a fast rate needs one grant
/// per horizon, not one per attempt.
pub fn grant(
    limits: &Limits,
    next_at_us: i64,
    now_us: i64,
    horizon_us: i64,
    in_flight: i64,
    want: i64,
) -> Grant {
    let first_start_us = next_at_us.max(now_us);
    let mut count = want.max(0);
    let mut retry_at_us = None;
    if let Some(cap) = limits.max_in_flight {
        count = count.min((cap - in_flight).max(0));
    }
    if let Some(s) = limits.spacing_us {
        let last = now_us + horizon_us;
        let by_rate = if first_start_us > last {
            0
        } else {
            (last - first_start_us) / s + 1
        };
        if by_rate < count || by_rate == 0 {
            count = count.min(by_rate);
            // The first slot past those granted enters the horizon then.
            retry_at_us = Some(first_start_us + by_rate * s - horizon_us);
        }
    }
    Grant {
        count,
        first_start_us,
        retry_at_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn rate(n: i64) -> Limits {
        Limits {
            spacing_us: Limits::spacing(n, SECOND),
            max_in_flight: None,
        }
    }

    #[test]
    fn an_idle_rate_grants_what_fits_in_the_horizon() {
        let l = rate(20); // 50 ms apart
        let g = grant(&l, 0, 10 * SECOND, 100_000, 0, 10);
        assert_eq!(g.count, 3, "now, +50 ms, +100 ms");
        assert_eq!(g.first_start_us, 10 * SECOND);
        assert_eq!(g.start_of(2, &l), 10 * SECOND + 100_000);
        assert_eq!(g.next_at_after(3, &l, 0), 10 * SECOND + 150_000);
        assert_eq!(g.retry_at_us, Some(10 * SECOND + 50_000));
    }

    #[test]
    fn a_rate_whose_slots_are_taken_says_when() {
        let l = rate(2); // 500 ms apart
        let g = grant(&l, SECOND + 500_000, SECOND, 100_000, 0, 5);
        assert_eq!(g.count, 0);
        assert_eq!(g.retry_at_us, Some(SECOND + 400_000));
    }

    #[test]
    fn unused_slots_go_back() {
        let l = rate(20);
        let g = grant(&l, 0, SECOND, 100_000, 0, 10);
        assert_eq!(g.next_at_after(1, &l, 0), SECOND + 50_000);
        assert_eq!(g.next_at_after(0, &l, 7), 7);
    }

    #[test]
    fn the_cap_counts_what_is_in_flight() {
        let l = Limits {
            spacing_us: None,
            max_in_flight: Some(2),
        };
        assert_eq!(grant(&l, 0, SECOND, 0, 0, 5).count, 2);
        assert_eq!(grant(&l, 0, SECOND, 0, 1, 5).count, 1);
        let full = grant(&l, 0, SECOND, 0, 2, 5);
        assert_eq!((full.count, full.retry_at_us), (0, None));
    }

    /// Callers asking every millisecond for a minute, each taking what it is
    /// granted at its start time, start the rate within one, for each period.
    #[test]
    fn the_rate_holds_over_a_simulated_minute() {
        for (n, period, expected) in [
            (5, SECOND, 300),
            (120, 60 * SECOND, 120),
            (7200, 3600 * SECOND, 120),
            (1000, SECOND, 60_000),
            (20, SECOND, 1200),
        ] {
            let l = Limits {
                spacing_us: Limits::spacing(n, period),
                max_in_flight: None,
            };
            let mut next_at = 0;
            let mut starts = Vec::new();
            for ms in 0..60_000i64 {
                let now = ms * 1000;
                let g = grant(&l, next_at, now, 100_000, 0, 50);
                starts.extend((0..g.count).map(|i| g.start_of(i, &l)));
                next_at = g.next_at_after(g.count, &l, next_at);
            }
            let in_minute = starts.iter().filter(|&&t| t < 60 * SECOND).count() as i64;
            assert!(
                in_minute.abs_diff(expected) <= 1,
                "{n} per {period} µs: {in_minute} in a minute, expected {expected}"
            );
            let spacing = l.spacing_us.unwrap();
            assert!(starts.windows(2).all(|w| w[1] - w[0] >= spacing));
        }
    }
}
