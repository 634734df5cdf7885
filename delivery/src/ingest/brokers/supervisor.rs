//! Runs the consumers of every enabled broker source on this replica, and
//! starts, restarts or stops them as sources are created, changed, disabled or
//! deleted (on any replica: it reads the store on each wake-up and every few
//! seconds, not only this process's changes).
//!
//! Every replica consumes every broker source: the brokers share messages out
//! among consumers (a queue, a consumer group, a durable pull consumer, SQS's
//! visibility timeout), so replicas add consumers rather than duplicates.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::driver::Driver;
use super::health::Health;
use super::BrokerLimits;
use crate::ingest::committer::Committer;
use crate::model::Source;
use crate::shutdown::{self, Shutdown, ShutdownTrigger};
use crate::signals::{Signal, Signals};
use crate::store::Store;

/// The longest a stopping gateway waits for consumers to finish their batch.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub struct Supervisor {
    pub store: Arc<Store>,
    pub committer: Committer,
    pub health: Arc<Health>,
    pub limits: BrokerLimits,
    pub max_body_bytes: usize,
    pub signals: Signals,
    /// How often the store is read for sources changed on other replicas.
    pub poll: Duration,
}

/// The consumers of one source, with what they were started from.
struct Running {
    updated_at: i64,
    config: Option<serde_json::Value>,
    stops: Vec<ShutdownTrigger>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    fn is_for(&self, s: &Source) -> bool {
        self.updated_at == s.updated_at && self.config == s.kind.config_json()
    }

    fn stop(self) -> Vec<JoinHandle<()>> {
        for s in &self.stops {
            s.trigger();
        }
        self.tasks
    }
}

impl Supervisor {
    pub async fn run(self, mut stop: Shutdown) {
        let mut running: HashMap<String, Running> = HashMap::new();
        loop {
            self.reconcile(&mut running).await;
            tokio::select! {
                _ = self.signals.notified(Signal::Sources) => {}
                _ = tokio::time::sleep(self.poll) => {}
                _ = stop.recv() => break,
            }
        }
        let tasks: Vec<_> = running.into_values().flat_map(Running::stop).collect();
        let all = futures::future::join_all(tasks);
        if tokio::time::timeout(STOP_GRACE, all).await.is_err() {
            tracing::warn!("broker consumers did not stop in time; their unacknowledged messages will be redelivered");
        }
    }

    /// Makes the running consumers those of the enabled broker sources.
    async fn reconcile(&self, running: &mut HashMap<String, Running>) {
        let sources = match self.store.broker_sources().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot read broker sources; consumers left as they are");
                return;
            }
        };
        let wanted: HashMap<&str, &Source> = sources.iter().map(|s| (s.id.as_str(), s)).collect();
        let gone: Vec<String> = running
            .iter()
            .filter(|(id, r)| !wanted.get(id.as_str()).is_some_and(|s| r.is_for(s)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some(r) = running.remove(&id) {
                // Not awaited: a consumer finishes its batch on its own time,
                // and the replacement may start meanwhile (at least once).
                drop(r.stop());
                if !wanted.contains_key(id.as_str()) {
                    tracing::info!(source_id = %id, "broker source stopped");
                    self.health.forget(&id).await;
                }
            }
        }
        for s in sources {
            if running.contains_key(&s.id) {
                continue;
            }
            tracing::info!(source = %s.name, kind = s.kind.type_name(), consumers = s.kind.consumers(),
                "broker source started");
            let id = s.id.clone();
            let updated_at = s.updated_at;
            let config = s.kind.config_json();
            let source = Arc::new(s);
            let (mut stops, mut tasks) = (Vec::new(), Vec::new());
            for index in 0..source.kind.consumers() {
                let (trigger, stop) = shutdown::channel();
                let driver = Driver {
                    source: source.clone(),
                    index,
                    committer: self.committer.clone(),
                    health: self.health.clone(),
                    limits: self.limits.clone(),
                    max_body_bytes: self.max_body_bytes,
                };
                stops.push(trigger);
                tasks.push(tokio::spawn(driver.run(stop)));
            }
            running.insert(
                id,
                Running {
                    updated_at,
                    config,
                    stops,
                    tasks,
                },
            );
        }
    }
}
