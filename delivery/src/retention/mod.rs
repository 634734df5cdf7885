//! Retention: a background job that deletes requests, events, attempts,
//! executions, ignored events, closed issues and finished bulk retries older than
//! `retention.days`, in small batches ([`Store::prune_step`]), then gives the
//! freed space back ([`Store::reclaim_space`]).
//!
//! Between two batches it pauses, so ingest and dispatch get the (SQLite) writer
//! in between; a pass that finds nothing waits `retention.interval_secs`.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RetentionConfig;
use crate::periodic::{every, Periodic, Step};
use crate::shutdown::Shutdown;
use crate::signals::{Signal, Signals};
use crate::store::{Pruned, Store, StoreResult};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub struct Retention {
    pub store: Arc<Store>,
    pub config: RetentionConfig,
    pub signals: Signals,
    /// Now, in Unix milliseconds (a simulated clock in tests).
    pub now_ms: fn() -> i64,
    /// Pause between two batches.
    pub pause: Duration,
    /// Whether the last step deleted anything (space to reclaim when it ends).
    deleted_since_reclaim: bool,
}

impl Retention {
    pub fn new(store: Arc<Store>, config: RetentionConfig, signals: Signals) -> Self {
        Retention {
            store,
            config,
            signals,
            now_ms: crate::clock::now_ms,
            pause: Duration::from_millis(20),
            deleted_since_reclaim: false,
        }
    }

    /// Runs until shutdown; does nothing when `retention.days` is 0.
    pub async fn run(mut self, shutdown: Shutdown) {
        if self.config.days == 0 {
            return;
        }
        let poll = Duration::from_secs(self.config.interval_secs.max(1));
        let signals = self.signals.clone();
        every(poll, &signals, Signal::Retention, shutdown, &mut self).await
    }

    /// The time before which everything finished is deleted.
    pub fn cutoff_ms(&self) -> i64 {
        (self.now_ms)() - i64::from(self.config.days) * DAY_MS
    }

    /// One batch of each kind; what it deleted.
    pub async fn step_once(&mut self) -> StoreResult<Pruned> {
        let pruned = self
            .store
            .prune_step(self.cutoff_ms(), self.config.batch_size.max(1))
            .await?;
        if pruned.total() > 0 {
            self.deleted_since_reclaim = true;
            tracing::debug!(?pruned, "retention: deleted a batch");
        } else if std::mem::take(&mut self.deleted_since_reclaim) {
            self.store.reclaim_space().await?;
        }
        Ok(pruned)
    }
}

impl Periodic for Retention {
    async fn step(&mut self) -> Step {
        match self.step_once().await {
            Ok(p) if p.total() > 0 => {
                tokio::time::sleep(self.pause).await;
                Step::More
            }
            Ok(_) => Step::Idle,
            Err(e) => {
                tracing::warn!(error = %e, "retention: deleting old data failed; trying again later");
                Step::Idle
            }
        }
    }
}
