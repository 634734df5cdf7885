//! Per-destination delivery limits: a rate (per second, minute or hour) and a
//! maximum number of attempts in flight, held by the database so that every
//! replica sharing it keeps to them together.
//!
//! The dispatcher never leases more events of a limited destination than its
//! limits let start (see [`crate::store::Store::lease_limited`]), so a backlog
//! waits in the store (in order, and visible as the destination's queue) rather
//! than in memory or in leases. What this module keeps in memory is only a hint:
//! when asking the database again is worth it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hookyard_core::pacing;

use crate::model::{Destination, RateLimitPeriod};

/// How far ahead a lease round may schedule a limited destination's attempts:
/// a fast rate takes one transaction per horizon, not one per attempt.
pub const HORIZON: Duration = Duration::from_millis(100);

/// How long a replica whose destination's cap was full waits before asking
/// again, unless one of its own attempts there ends first (those of other
/// replicas end unseen).
const CAP_RECHECK: Duration = Duration::from_millis(50);

/// The limits a destination asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSpec {
    /// Attempts per `period`.
    pub rate: Option<(u32, Duration)>,
    pub concurrency: Option<u32>,
}

impl LimitSpec {
    pub fn of(d: &Destination) -> Self {
        let mut spec = LimitSpec {
            rate: None,
            concurrency: d.max_concurrency.and_then(|c| u32::try_from(c).ok()),
        };
        if let Some(n) = d.rate_limit.and_then(|n| u32::try_from(n).ok()) {
            match d.rate_limit_period.unwrap_or(RateLimitPeriod::Second) {
                RateLimitPeriod::Second => spec.rate = Some((n, Duration::from_secs(1))),
                RateLimitPeriod::Minute => spec.rate = Some((n, Duration::from_secs(60))),
                RateLimitPeriod::Hour => spec.rate = Some((n, Duration::from_secs(3600))),
                RateLimitPeriod::Concurrent => {
                    spec.concurrency = Some(spec.concurrency.map_or(n, |c| c.min(n)))
                }
            }
        }
        spec
    }

    pub fn is_limited(&self) -> bool {
        self.rate.is_some() || self.concurrency.is_some()
    }

    /// The limits as pacing counts them.
    pub fn pacing(&self) -> pacing::Limits {
        pacing::Limits {
            spacing_us: self
                .rate
                .and_then(|(n, p)| pacing::Limits::spacing(i64::from(n), p.as_micros() as i64)),
            max_in_flight: self.concurrency.map(i64::from),
        }
    }
}

/// Why a destination is not worth asking about until a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Its rate has no slot before then.
    Rate,
    /// Its cap was full; one of this replica's attempts ending frees a slot sooner.
    Cap,
}

/// When each limited destination is worth a lease transaction again.
#[derive(Default)]
pub struct DestinationLimits {
    waits: Mutex<HashMap<String, (Instant, Wait)>>,
}

impl DestinationLimits {
    /// How long asking about `id` is pointless (zero when it is worth asking now).
    pub fn wait(&self, id: &str, now: Instant) -> Duration {
        let waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        waits.get(id).map_or(Duration::ZERO, |(until, _)| {
            until.saturating_duration_since(now)
        })
    }

    /// Remembers what a lease transaction said: its rate frees a slot in
    /// `retry_in` (`Some`), its cap was full (`full`), or neither.
    pub fn learned(&self, id: &str, now: Instant, retry_in: Option<Duration>, full: bool) {
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        match (retry_in, full) {
            (Some(r), _) => waits.insert(id.to_owned(), (now + r, Wait::Rate)),
            (None, true) => waits.insert(id.to_owned(), (now + CAP_RECHECK, Wait::Cap)),
            (None, false) => waits.remove(id),
        };
    }

    /// Attempts of these destinations ended and their leases were given up: a
    /// full cap has room. True if one of them was waiting for that. One lock for
    /// a whole batch of results, and none at all while nothing waits.
    pub fn attempts_ended<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> bool {
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        if waits.is_empty() {
            return false;
        }
        let mut freed = false;
        for id in ids {
            if matches!(waits.get(id), Some((_, Wait::Cap))) {
                waits.remove(id);
                freed = true;
            }
        }
        freed
    }

    /// Forgets destinations that are no longer limited.
    pub fn retain(&self, limited: &[std::sync::Arc<Destination>]) {
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        waits.retain(|id, _| limited.iter().any(|d| &d.id == id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(rate: Option<i64>, period: Option<RateLimitPeriod>, conc: Option<i64>) -> Destination {
        let mut d = Destination::new("des_1".into(), "d".into(), None, 0);
        d.rate_limit = rate;
        d.rate_limit_period = period;
        d.max_concurrency = conc;
        d
    }

    #[test]
    fn specs_follow_hookdecks_fields() {
        let s = LimitSpec::of(&dest(Some(5), None, None));
        assert_eq!(s.rate, Some((5, Duration::from_secs(1))));
        assert_eq!(s.pacing().spacing_us, Some(200_000));
        let s = LimitSpec::of(&dest(Some(3), Some(RateLimitPeriod::Concurrent), Some(10)));
        assert_eq!((s.rate, s.concurrency), (None, Some(3)));
        assert_eq!(s.pacing().max_in_flight, Some(3));
        let s = LimitSpec::of(&dest(Some(100), Some(RateLimitPeriod::Hour), Some(2)));
        assert_eq!(s.rate, Some((100, Duration::from_secs(3600))));
        assert_eq!(s.pacing().spacing_us, Some(36_000_000));
        assert_eq!(s.concurrency, Some(2));
        assert!(!LimitSpec::of(&dest(None, None, None)).is_limited());
    }

    #[test]
    fn a_full_cap_waits_until_an_attempt_ends() {
        let limits = DestinationLimits::default();
        let now = Instant::now();
        limits.learned("des_1", now, None, true);
        assert_eq!(limits.wait("des_1", now), CAP_RECHECK);
        assert!(limits.attempts_ended(["des_2", "des_1"]));
        assert_eq!(limits.wait("des_1", now), Duration::ZERO);
        assert!(!limits.attempts_ended(["des_1"]), "nothing waited");
    }

    #[test]
    fn a_rate_wait_is_not_cut_short_by_an_attempt_ending() {
        let limits = DestinationLimits::default();
        let now = Instant::now();
        limits.learned("des_1", now, Some(Duration::from_millis(400)), false);
        assert!(!limits.attempts_ended(["des_1"]));
        assert_eq!(limits.wait("des_1", now), Duration::from_millis(400));
        limits.learned("des_1", now, None, false);
        assert_eq!(limits.wait("des_1", now), Duration::ZERO);
    }
}
