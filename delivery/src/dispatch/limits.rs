//! Per-destination delivery limits: a rate (per second, minute or hour) and a
//! maximum number of attempts in flight. One layer in front of every adapter.
//!
//! The dispatcher never leases more events of a limited destination than its
//! limits let through right now, so a backlog waits in the store (in order, and
//! visible as the destination's queue) rather than in memory or in leases.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::model::{Destination, RateLimitPeriod};

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
}

/// GCRA with a burst of one: attempts are spaced evenly (`period / n` apart),
/// so no window of any length sees more than its share.
fn quota(n: u32, period: Duration) -> Option<Quota> {
    let n = NonZeroU32::new(n)?;
    let spacing = period / n.get();
    Quota::with_period(spacing.max(Duration::from_nanos(1))).map(|q| q.allow_burst(NonZeroU32::MIN))
}

struct Lane {
    spec: LimitSpec,
    rate: Option<DefaultDirectRateLimiter>,
    in_flight: Option<Arc<Semaphore>>,
}

impl Lane {
    fn new(spec: LimitSpec) -> Self {
        Lane {
            spec,
            rate: spec
                .rate
                .and_then(|(n, p)| quota(n, p))
                .map(RateLimiter::direct),
            in_flight: spec
                .concurrency
                .map(|c| Arc::new(Semaphore::new(c as usize))),
        }
    }
}

/// Leave to make one attempt; holding it holds one of the destination's
/// concurrency slots.
#[derive(Debug)]
pub struct Admission {
    _slot: Option<OwnedSemaphorePermit>,
}

/// How many attempts a destination may start now.
#[derive(Debug)]
pub struct Grant {
    pub admissions: Vec<Admission>,
    /// When more may start, if none may now because of the rate.
    pub retry_in: Option<Duration>,
}

/// The limit state of every limited destination in this process.
#[derive(Default)]
pub struct DestinationLimits {
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
}

impl DestinationLimits {
    /// Takes up to `want` admissions for `d`: rate tokens and concurrency slots
    /// together. A changed limit starts a fresh lane.
    pub fn grant(&self, d: &Destination, want: usize) -> Grant {
        let spec = LimitSpec::of(d);
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            let lane = lanes
                .entry(d.id.clone())
                .or_insert_with(|| Arc::new(Lane::new(spec)));
            if lane.spec != spec {
                *lane = Arc::new(Lane::new(spec));
            }
            lane.clone()
        };
        let mut admissions = Vec::new();
        let mut retry_in = None;
        while admissions.len() < want {
            let slot = match &lane.in_flight {
                Some(sem) => match sem.clone().try_acquire_owned() {
                    Ok(p) => Some(p),
                    Err(_) => break,
                },
                None => None,
            };
            if let Some(rate) = &lane.rate {
                if let Err(not_until) = rate.check() {
                    retry_in = Some(not_until.wait_time_from(DefaultClock::default().now()));
                    break;
                }
            }
            admissions.push(Admission { _slot: slot });
        }
        Grant {
            admissions,
            retry_in,
        }
    }

    /// Forgets destinations that are no longer limited.
    pub fn retain(&self, limited: &[Arc<Destination>]) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.retain(|id, _| limited.iter().any(|d| &d.id == id));
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
        let s = LimitSpec::of(&dest(Some(3), Some(RateLimitPeriod::Concurrent), Some(10)));
        assert_eq!((s.rate, s.concurrency), (None, Some(3)));
        let s = LimitSpec::of(&dest(Some(100), Some(RateLimitPeriod::Hour), Some(2)));
        assert_eq!(s.rate, Some((100, Duration::from_secs(3600))));
        assert_eq!(s.concurrency, Some(2));
        assert!(!LimitSpec::of(&dest(None, None, None)).is_limited());
    }

    #[test]
    fn a_rate_lets_one_through_then_says_when() {
        let limits = DestinationLimits::default();
        let d = dest(Some(2), Some(RateLimitPeriod::Second), None);
        let g = limits.grant(&d, 10);
        assert_eq!(g.admissions.len(), 1, "burst of one");
        let wait = g.retry_in.expect("told when");
        assert!(
            wait <= Duration::from_millis(500) && wait > Duration::from_millis(400),
            "{wait:?}"
        );
    }

    /// Under a simulated clock, a caller trying every millisecond for a minute
    /// gets the rate within 5% (here: within one), for each period kind.
    #[test]
    fn the_quota_holds_over_a_simulated_minute() {
        use governor::clock::FakeRelativeClock;
        for (n, period, expected) in [
            (5, Duration::from_secs(1), 300),
            (120, Duration::from_secs(60), 120),
            (7200, Duration::from_secs(3600), 120),
            (1000, Duration::from_secs(1), 60_000),
        ] {
            let clock = FakeRelativeClock::default();
            let limiter = RateLimiter::direct_with_clock(quota(n, period).unwrap(), clock.clone());
            let mut passed = 0u32;
            for _ in 0..60_000 {
                if limiter.check().is_ok() {
                    passed += 1;
                }
                clock.advance(Duration::from_millis(1));
            }
            assert!(
                passed.abs_diff(expected) <= 1 && f64::from(passed) <= f64::from(expected) * 1.05,
                "{n} per {period:?}: {passed} in a minute, expected {expected}"
            );
        }
    }

    #[test]
    fn concurrency_slots_come_back_when_admissions_drop() {
        let limits = DestinationLimits::default();
        let d = dest(Some(2), Some(RateLimitPeriod::Concurrent), None);
        let g = limits.grant(&d, 5);
        assert_eq!(g.admissions.len(), 2);
        assert!(limits.grant(&d, 5).admissions.is_empty());
        drop(g);
        assert_eq!(limits.grant(&d, 5).admissions.len(), 2);
    }

    #[test]
    fn a_changed_limit_takes_effect() {
        let limits = DestinationLimits::default();
        let mut d = dest(Some(1), Some(RateLimitPeriod::Concurrent), None);
        let held = limits.grant(&d, 5);
        assert_eq!(held.admissions.len(), 1);
        d.rate_limit = Some(3);
        assert_eq!(limits.grant(&d, 5).admissions.len(), 3);
    }
}
