//! The monitor: a periodic sweep that holds the events of disabled destinations
//! and paused connections (and releases them when those are active again),
//! publishes queue depth and backlog age per destination, and opens or resolves
//! backpressure issues.
//!
//! Nothing a sweep reads grows with the backlog except the queue depths:
//! holding and releasing go from the inactive destinations and connections to
//! their events, and a backlog's age is a few index seeks per destination. The
//! depths are counts of every waiting event, so they are taken on a pace of
//! their own (see [`DepthPace`]).
//!
//! Holding and releasing are done here, from the state of destinations and
//! connections, rather than by whoever changes that state, so a change made on
//! any replica (or by the tracker's auto-disable) takes effect the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::model::DestinationBacklog;
use crate::model::{Failure, IssueFilter, IssueStatus, IssueType};
use crate::periodic::{every, Periodic, Step};
use crate::shutdown::Shutdown;
use crate::signals::{Signal, Signals};
use crate::store::{PageQuery, Store, StoreResult};
use crate::telemetry;

pub struct Monitor {
    pub store: Arc<Store>,
    pub catalog: Arc<Catalog>,
    pub interval: Duration,
    /// Woken (`Signal::Monitor`) by enable/disable/pause/unpause; wakes dispatch
    /// when it released events and the notifier when backpressure changed.
    pub signals: Signals,
}

/// The monitor's loop, with the destinations whose backlog gauges it set last
/// (so a destination that emptied gets its gauges reset) and the queue depths
/// last counted.
struct Sweeps {
    monitor: Monitor,
    known: Vec<String>,
    depths: Vec<DestinationBacklog>,
    pace: DepthPace,
}

impl Periodic for Sweeps {
    async fn step(&mut self) -> Step {
        if self.pace.due(Instant::now()) {
            let started = Instant::now();
            match self.monitor.store.backlog_counts().await {
                Ok(depths) => {
                    self.depths = depths;
                    self.pace.counted(started, started.elapsed());
                }
                Err(e) => tracing::error!(error = %e, "counting queue depths failed; will retry"),
            }
        }
        match self.monitor.sweep(&self.depths).await {
            Ok(backlogs) => {
                telemetry::backlogs(now_ms(), &backlogs, &self.known);
                self.known = backlogs.into_iter().map(|b| b.destination_id).collect();
            }
            Err(e) => tracing::error!(error = %e, "monitor sweep failed; will retry"),
        }
        Step::Idle
    }
}

/// When the queue depths are counted again. Counting reads an index entry per
/// waiting event: nothing on a small backlog, a fair part of a second on a
/// million. So a count waits [`DepthPace::COST_FACTOR`] times as long as the
/// last one took (at most 2% of a core), and at most [`DepthPace::MAX_WAIT`]:
/// every sweep when counting is cheap, every few seconds on a large backlog.
#[derive(Debug, Default)]
struct DepthPace {
    next: Option<Instant>,
}

impl DepthPace {
    const COST_FACTOR: u32 = 50;
    const MAX_WAIT: Duration = Duration::from_secs(60);

    fn due(&self, now: Instant) -> bool {
        self.next.is_none_or(|next| now >= next)
    }

    fn counted(&mut self, started: Instant, took: Duration) {
        self.next = Some(started + (took * Self::COST_FACTOR).min(Self::MAX_WAIT));
    }
}

impl Monitor {
    pub async fn run(self, shutdown: Shutdown) {
        let (interval, signals) = (self.interval, self.signals.clone());
        let mut sweeps = Sweeps {
            monitor: self,
            known: Vec::new(),
            depths: Vec::new(),
            pace: DepthPace::default(),
        };
        every(interval, &signals, Signal::Monitor, shutdown, &mut sweeps).await
    }

    /// Holds and releases, and opens or resolves backpressure issues; returns
    /// each waiting destination's backlog (its ages measured now, its counts
    /// from `depths`, the last count).
    pub async fn sweep(
        &self,
        depths: &[DestinationBacklog],
    ) -> StoreResult<Vec<DestinationBacklog>> {
        let now = now_ms();
        let (held, released) = self.store.hold_and_release(now).await?;
        if held > 0 {
            telemetry::events_held(held);
        }
        if released > 0 {
            tracing::info!(released, "held events released");
            self.signals.notify(Signal::Dispatch);
        }
        let ages = self.store.backlog_ages().await?;
        let backlogs = merge(depths, &ages);
        self.backpressure(&backlogs, now).await?;
        Ok(backlogs)
    }

    /// A destination whose oldest pending event is older than a backpressure
    /// trigger's `delay` (milliseconds) has a backpressure issue; one that caught up has not.
    async fn backpressure(&self, backlogs: &[DestinationBacklog], now: i64) -> StoreResult<()> {
        let triggers: Vec<_> = self
            .store
            .list_triggers()
            .await?
            .into_iter()
            .filter(|t| t.issue_type == IssueType::Backpressure && t.disabled_at.is_none())
            .collect();
        if triggers.is_empty() {
            return Ok(());
        }
        // Destinations with a backlog, and those with an open backpressure issue
        // (which may have caught up).
        let open = self
            .store
            .list_issues(
                &IssueFilter {
                    types: vec![IssueType::Backpressure],
                    statuses: vec![IssueStatus::Opened],
                    ..Default::default()
                },
                &PageQuery {
                    limit: 250,
                    ..Default::default()
                },
            )
            .await?;
        let mut all_ids: Vec<String> = backlogs.iter().map(|b| b.destination_id.clone()).collect();
        all_ids.extend(open.models.into_iter().filter_map(|i| i.destination_id));
        all_ids.sort();
        all_ids.dedup();
        let mut opened = false;
        for id in all_ids {
            let name = self.catalog.destination(&id).await?.map(|d| d.name.clone());
            let age_ms = backlogs
                .iter()
                .find(|b| b.destination_id == id)
                .and_then(|b| b.oldest_pending_at)
                .map_or(0, |t| now - t);
            let failure = Failure {
                issue_type: IssueType::Backpressure,
                connection_id: None,
                destination_id: Some(id.clone()),
                source_id: None,
                response_status: None,
                error_code: Some("BACKPRESSURE".into()),
                event_id: None,
                attempt_id: None,
                is_final: false,
            };
            let late = triggers.iter().any(|t| {
                t.configs.destinations.matches(&id, name.as_deref())
                    && age_ms > t.configs.delay_ms()
            });
            if late {
                self.store.record_failures(&[failure], now).await?;
                opened = true;
            } else {
                self.store
                    .resolve_issue_by_fingerprint(&failure.fingerprint(), now)
                    .await?;
            }
        }
        if opened {
            self.signals.notify(Signal::Alerts);
        }
        Ok(())
    }
}

/// Destinations with a backlog now (`ages`) or at the last count (`depths`),
/// in id order: counts from the count, ages from now. A destination that
/// emptied since the count keeps its count until the next one.
fn merge(depths: &[DestinationBacklog], ages: &[(String, i64)]) -> Vec<DestinationBacklog> {
    let mut out: Vec<DestinationBacklog> = depths
        .iter()
        .map(|d| DestinationBacklog {
            oldest_pending_at: None,
            ..d.clone()
        })
        .collect();
    for (id, oldest) in ages {
        match out.iter_mut().find(|b| &b.destination_id == id) {
            Some(b) => b.oldest_pending_at = Some(*oldest),
            None => out.push(DestinationBacklog {
                destination_id: id.clone(),
                oldest_pending_at: Some(*oldest),
                ..Default::default()
            }),
        }
    }
    out.sort_by(|a, b| a.destination_id.cmp(&b.destination_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_are_counted_again_after_fifty_times_the_last_count() {
        let mut pace = DepthPace::default();
        let t0 = Instant::now();
        assert!(pace.due(t0), "the first sweep counts");
        pace.counted(t0, Duration::from_millis(1));
        assert!(!pace.due(t0 + Duration::from_millis(49)));
        assert!(pace.due(t0 + Duration::from_millis(50)));
        pace.counted(t0, Duration::from_secs(10));
        assert!(
            !pace.due(t0 + Duration::from_secs(59)),
            "at most a minute apart"
        );
        assert!(pace.due(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn a_backlog_takes_its_counts_from_the_count_and_its_age_from_now() {
        let depth = |id: &str, pending| DestinationBacklog {
            destination_id: id.into(),
            pending,
            oldest_pending_at: Some(1),
            ..Default::default()
        };
        let merged = merge(
            &[depth("des_b", 5), depth("des_c", 2)],
            &[("des_a".into(), 10), ("des_b".into(), 20)],
        );
        let got: Vec<_> = merged
            .iter()
            .map(|b| (b.destination_id.as_str(), b.pending, b.oldest_pending_at))
            .collect();
        assert_eq!(
            got,
            [
                ("des_a", 0, Some(10)),
                ("des_b", 5, Some(20)),
                ("des_c", 2, None)
            ]
        );
    }
}
