//! Takes bulk retries forward a step at a time: each step leases the operation
//! (so one replica works on it), retries up to `step` matching records after its
//! cursor, and saves the cursor, so an operation goes on where it was after a
//! restart.
//!
//! - events are queued again and go through the dispatcher like any other, so
//!   they keep to their destination's limits;
//! - requests are routed again through their source's connections as they are
//!   now, by [`crate::route::retry_request`] (the one rules walker);
//! - ignored events route their request again through the connection that
//!   ignored it; one that makes an event now is no longer ignored.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::now_ms;
use crate::model::{BulkQuery, BulkRetry, EventQuery, IgnoredEventQuery, RequestQuery};
use crate::periodic::{every, Periodic, Step};
use crate::route::{reroute_request, RulesCache};
use crate::shutdown::Shutdown;
use crate::signals::{Signal, Signals};
use crate::store::{Store, StoreResult};
use crate::transform::Transforms;

pub struct BulkRetryWorker {
    pub store: Arc<Store>,
    /// What request and ignored-event retries route with.
    pub rules: Arc<RulesCache>,
    pub transforms: Arc<Transforms>,
    /// Woken (`Signal::BulkRetry`) when an operation is created; wakes dispatch
    /// after each step that queued events.
    pub signals: Signals,
    /// Records looked at per step.
    pub step: i64,
    pub poll: Duration,
}

/// What one step did: records looked at, of those retried, the last id.
struct Stepped {
    seen: i64,
    retried: i64,
    last_id: Option<String>,
    /// The counts and cursor are already in the operation (saved record by
    /// record); only completion is left to decide.
    counted: bool,
    /// The step stopped early: cancelled, or the lease was lost.
    interrupted: bool,
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
        let query = op.query.clone();
        let stepped = match &query {
            BulkQuery::Events(q) => self.step_events(&op, q).await?,
            BulkQuery::Requests(q) => self.step_requests(&mut op, q, lease_until).await?,
            BulkQuery::IgnoredEvents(q) => self.step_ignored(&mut op, q, lease_until).await?,
        };
        let Some(s) = stepped else {
            // Checked at creation; a stored query that no longer compiles
            // cannot make progress, so it ends rather than spin.
            tracing::error!(bulk = %op.id, "bulk retry query is invalid; ending it");
            op.completed_at = Some(now);
            self.store.save_bulk_progress(&op, lease_until).await?;
            return Ok(true);
        };
        if s.retried > 0 {
            self.signals.notify(Signal::Dispatch);
        }
        if s.interrupted {
            return Ok(true);
        }
        if s.counted {
            finish(&mut op, s.seen, self.step, now_ms());
        } else {
            advance(&mut op, s.seen, s.retried, s.last_id, self.step, now_ms());
        }
        self.store.save_bulk_progress(&op, lease_until).await?;
        Ok(op.completed_at.is_none())
    }

    /// Queues the matching events after the cursor; `None` if the query is invalid.
    async fn step_events(&self, op: &BulkRetry, q: &EventQuery) -> StoreResult<Option<Stepped>> {
        let compiled = match q.compile() {
            Ok(c) => c,
            Err(_) => return Ok(None),
        };
        let events = self
            .store
            .events_after(&compiled.sql, op.cursor.as_deref(), self.step)
            .await?;
        let ids: Vec<String> = if compiled.needs_requests() {
            // The step's bodies in one read, not one query per event.
            let request_ids: Vec<String> = events.iter().map(|e| e.request_id.clone()).collect();
            let requests = self.store.requests_by_ids(&request_ids).await?;
            events
                .iter()
                .filter(|e| {
                    requests
                        .get(&e.request_id)
                        .is_some_and(|r| compiled.matches_request(r))
                })
                .map(|e| e.id.clone())
                .collect()
        } else {
            events.iter().map(|e| e.id.clone()).collect()
        };
        let retried = self.store.requeue_events(&ids, &op.id, now_ms()).await?;
        Ok(Some(Stepped {
            seen: events.len() as i64,
            retried: retried as i64,
            last_id: events.last().map(|e| e.id.clone()),
            counted: false,
            interrupted: false,
        }))
    }

    /// Routes the matching requests after the cursor again, through their
    /// source's connections as they are now.
    async fn step_requests(
        &self,
        op: &mut BulkRetry,
        q: &RequestQuery,
        lease_until: i64,
    ) -> StoreResult<Option<Stepped>> {
        let Ok(compiled) = q.compile() else {
            return Ok(None);
        };
        let page = self
            .store
            .requests_after(&compiled.sql, op.cursor.as_deref(), self.step)
            .await?;
        let mut s = Stepped {
            seen: page.len() as i64,
            retried: 0,
            last_id: page.last().map(|r| r.id.clone()),
            counted: true,
            interrupted: false,
        };
        for r in &page {
            // Not yet routed: the router takes it; refused at admission (other
            // than for lack of a connection): routing it now would let through
            // what was refused, e.g. a bad signature.
            let routable = r.routed
                && r.rejection_cause
                    .is_none_or(|c| c == crate::model::RejectionCause::NoConnection);
            let mut retried = false;
            if routable {
                if let Some(req) = self.store.get_request(&r.id, true).await? {
                    if compiled.matches_request(&req) {
                        let conns = self.store.connections_of_source(&req.source_id).await?;
                        // Routed again counts as retried, whether or not a
                        // connection took it this time.
                        self.reroute(op, req, conns).await?;
                        retried = true;
                    }
                }
            }
            if !self
                .record_one(op, &mut s, &r.id, retried, lease_until)
                .await?
            {
                return Ok(Some(s));
            }
        }
        Ok(Some(s))
    }

    /// Routes the requests of the matching ignored events after the cursor
    /// again, each through the connection that ignored it.
    async fn step_ignored(
        &self,
        op: &mut BulkRetry,
        q: &IgnoredEventQuery,
        lease_until: i64,
    ) -> StoreResult<Option<Stepped>> {
        if q.check().is_err() {
            return Ok(None);
        }
        let selection = q.selection(&self.store).await?;
        let page = self
            .store
            .ignored_after(&selection, op.cursor.as_deref(), self.step)
            .await?;
        let mut s = Stepped {
            seen: page.len() as i64,
            retried: 0,
            last_id: page.last().map(|i| i.id.clone()),
            counted: true,
            interrupted: false,
        };
        for ig in &page {
            let mut retried = false;
            let conn = self.store.get_connection(&ig.connection_id).await?;
            let req = self.store.get_request(&ig.request_id, true).await?;
            if let (Some(conn), Some(req)) = (conn, req) {
                if !self.reroute(op, req, vec![conn]).await?.is_empty() {
                    self.store.resolve_ignored_event(ig, now_ms()).await?;
                    retried = true;
                }
            }
            if !self
                .record_one(op, &mut s, &ig.id, retried, lease_until)
                .await?
            {
                return Ok(Some(s));
            }
        }
        Ok(Some(s))
    }

    /// Routes `req` through `connections` with the walker request retries use;
    /// the events it makes carry the operation's id to their first attempt.
    async fn reroute(
        &self,
        op: &BulkRetry,
        req: crate::model::RequestRecord,
        connections: Vec<crate::model::Connection>,
    ) -> StoreResult<Vec<crate::model::Event>> {
        let events = reroute_request(
            &self.store,
            &self.rules,
            &self.transforms,
            req,
            connections,
            Some(&op.id),
        )
        .await?;
        if !events.is_empty() {
            self.signals.notify(Signal::Dispatch);
        }
        Ok(events)
    }

    /// Saves the progress after one record of the step (keeping the lease), so
    /// a restart does not route it again; false if the operation was cancelled
    /// or the lease lost meanwhile (the step stops, and `s` says so).
    async fn record_one(
        &self,
        op: &mut BulkRetry,
        s: &mut Stepped,
        id: &str,
        retried: bool,
        lease_until: i64,
    ) -> StoreResult<bool> {
        op.processed_count += 1;
        op.retried_count += i64::from(retried);
        s.retried += i64::from(retried);
        op.cursor = Some(id.to_owned());
        op.updated_at = now_ms();
        if !self.store.save_bulk_cursor(op, lease_until).await? {
            s.interrupted = true;
            return Ok(false);
        }
        Ok(true)
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
    finish(op, seen, step, now);
}

/// Ends the step: a step that found fewer records than it could take was the last.
fn finish(op: &mut BulkRetry, seen: i64, step: i64, now: i64) {
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

    #[test]
    fn a_short_step_completes_the_operation() {
        let mut op = BulkRetry {
            id: "blk_1".into(),
            query: BulkQuery::Events(Box::default()),
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
