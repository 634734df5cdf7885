//! The monitor: a periodic sweep that holds the events of disabled destinations
//! and paused connections (and releases them when those are active again),
//! publishes queue depth and backlog age per destination, and opens or resolves
//! backpressure issues.
//!
//! Holding and releasing are done here, from the state of destinations and
//! connections, rather than by whoever changes that state, so a change made on
//! any replica (or by the tracker's auto-disable) takes effect the same way.

use std::sync::Arc;
use std::time::Duration;

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
/// (so a destination that emptied gets its gauges reset).
struct Sweeps {
    monitor: Monitor,
    known: Vec<String>,
}

impl Periodic for Sweeps {
    async fn step(&mut self) -> Step {
        match self.monitor.sweep().await {
            Ok(backlogs) => {
                telemetry::backlogs(now_ms(), &backlogs, &self.known);
                self.known = backlogs.into_iter().map(|b| b.destination_id).collect();
            }
            Err(e) => tracing::error!(error = %e, "monitor sweep failed; will retry"),
        }
        Step::Idle
    }
}

impl Monitor {
    pub async fn run(self, shutdown: Shutdown) {
        let (interval, signals) = (self.interval, self.signals.clone());
        let mut sweeps = Sweeps {
            monitor: self,
            known: Vec::new(),
        };
        every(interval, &signals, Signal::Monitor, shutdown, &mut sweeps).await
    }

    pub async fn sweep(&self) -> StoreResult<Vec<DestinationBacklog>> {
        let now = now_ms();
        let (held, released) = self.store.hold_and_release(now).await?;
        if held > 0 {
            telemetry::events_held(held);
        }
        if released > 0 {
            tracing::info!(released, "held events released");
            self.signals.notify(Signal::Dispatch);
        }
        let backlogs = self.store.backlogs().await?;
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
