//! Takes bulk retries forward a step at a time: each step leases the operation
//! (so one replica works on it), requeues up to `step` matching events after its
//! cursor, and saves the cursor. Requeued events go through the dispatcher like
//! any other, so they keep to their destination's limits.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::now_ms;
use crate::model::BulkRetry;
use crate::periodic::{every, Periodic, Step};
use crate::shutdown::Shutdown;
use crate::signals::{Signal, Signals};
use crate::store::{Store, StoreResult};

pub struct BulkRetryWorker {
    pub store: Arc<Store>,
    /// Woken (`Signal::BulkRetry`) when an operation is created; wakes dispatch
    /// after each step that queued events.
    pub signals: Signals,
    /// Events looked at per step.
    pub step: i64,
    pub poll: Duration,
}

impl BulkRetryWorker {
    pub async fn run(mut self, shutdown: Shutdown) {
        let (poll, signals) = (self.poll, self.signals.clone());
        every(poll, &signals, Signal::BulkRetry, shutdown, &mut self).await
    }

    /// One step of one operation; true if there may be more to do right away.
    pub async fn step_once(&self) -> StoreResult<bool> {
        let now = now_ms();
        let lease_until = now + 60_000;
        let Some(mut op) = self.store.claim_bulk_step(now, lease_until).await? else {
            return Ok(false);
        };
        let compiled = match op.query.compile() {
            Ok(c) => c,
            Err(e) => {
                // Checked at creation; a stored query that no longer compiles
                // cannot make progress, so it ends rather than spin.
                tracing::error!(bulk = %op.id, error = %e, "bulk retry query is invalid; ending it");
                op.completed_at = Some(now);
                self.store.save_bulk_progress(&op, lease_until).await?;
                return Ok(true);
            }
        };
        let events = self
            .store
            .events_after(&compiled.sql, op.cursor.as_deref(), self.step)
            .await?;
        let mut ids = Vec::with_capacity(events.len());
        for e in &events {
            let keep = if compiled.needs_requests() {
                match self.store.get_request(&e.request_id, true).await? {
                    Some(req) => compiled.matches_request(&req),
                    None => false,
                }
            } else {
                true
            };
            if keep {
                ids.push(e.id.clone());
            }
        }
        let retried = self.store.requeue_events(&ids, now_ms()).await?;
        if retried > 0 {
            self.signals.notify(Signal::Dispatch);
        }
        advance(
            &mut op,
            events.len() as i64,
            retried as i64,
            events.last().map(|e| e.id.clone()),
            self.step,
            now_ms(),
        );
        self.store.save_bulk_progress(&op, lease_until).await?;
        Ok(op.completed_at.is_none())
    }
}

/// Moves an operation past a step that looked at `seen` events.
fn advance(
    op: &mut BulkRetry,
    seen: i64,
    retried: i64,
    last_id: Option<String>,
    step: i64,
    now: i64,
) {
    op.processed_count += seen;
    op.retried_count += retried;
    if let Some(id) = last_id {
        op.cursor = Some(id);
    }
    if seen < step {
        op.completed_at = Some(now);
    }
    op.updated_at = now;
}

impl Periodic for BulkRetryWorker {
    async fn step(&mut self) -> Step {
        match self.step_once().await {
            Ok(true) => Step::More,
            Ok(false) => Step::Idle,
            Err(e) => {
                tracing::error!(error = %e, "bulk retry step failed; will retry");
                Step::Idle
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventQuery;

    #[test]
    fn a_short_step_completes_the_operation() {
        let mut op = BulkRetry {
            id: "blk_1".into(),
            query: EventQuery::default(),
            estimated_count: 3,
            processed_count: 0,
            retried_count: 0,
            cursor: None,
            cancelled_at: None,
            completed_at: None,
            created_at: 0,
            updated_at: 0,
        };
        advance(&mut op, 2, 2, Some("evt_2".into()), 2, 5);
        assert_eq!((op.processed_count, op.completed_at), (2, None));
        advance(&mut op, 1, 0, Some("evt_3".into()), 2, 6);
        assert_eq!(op.completed_at, Some(6));
        assert_eq!(op.cursor.as_deref(), Some("evt_3"));
        assert_eq!(op.retried_count, 2);
    }
}
