//! Events: reading and filtering them, and queueing them again by hand.

use sqlx::Row;

use super::sql::query::Query;
use super::sql::rows::{self, EVENT_COLS};
use super::{EventFilter, Page, PageQuery, RetryOutcome, Store, StoreResult};
use crate::model::{AttemptTrigger, Event, EventStatus, RequestRecord};

/// The `AND …` terms of an [`EventFilter`].
fn event_filters(q: &mut Query, f: &EventFilter) {
    q.and_in("id", &f.ids);
    let statuses: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_owned()).collect();
    q.and_in("status", &statuses)
        .and_in("connection_id", &f.connection_ids)
        .and_in("source_id", &f.source_ids)
        .and_in("destination_id", &f.destination_ids)
        .and_in("request_id", &f.request_ids)
        .and_in("issue_id", &f.issue_ids)
        .and_in("bulk_retry_id", &f.bulk_retry_ids)
        .and_in("error_code", &f.error_codes)
        .and_bounds("attempts", &f.attempts)
        .and_bounds("response_status", &f.response_status)
        .and_bounds("created_at", &f.created_at)
        .and_bounds("successful_at", &f.successful_at)
        .and_bounds("last_attempt_at", &f.last_attempt_at);
    if !f.topics.is_empty() {
        q.push(" AND request_id IN (SELECT id FROM requests WHERE topic IN ")
            .bind_list(f.topics.iter().cloned())
            .push(")");
    }
}

impl Store {
    pub(super) async fn events_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Event>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Query::new(&format!("SELECT {EVENT_COLS} FROM events WHERE id IN "));
        q.bind_list(ids.iter().cloned());
        q.push(" ORDER BY id");
        self.fetch_all(&self.write, q)
            .await?
            .iter()
            .map(rows::event)
            .collect()
    }
}

impl Store {
    pub async fn get_event(&self, id: &str) -> StoreResult<Option<Event>> {
        self.get_one(EVENT_COLS, "events", "id", id, rows::event)
            .await
    }

    pub async fn list_events(&self, f: &EventFilter, page: &PageQuery) -> StoreResult<Page<Event>> {
        let filters = |q: &mut Query| event_filters(q, f);
        self.list(EVENT_COLS, "events", &filters, page, rows::event, |e| &e.id)
            .await
    }

    /// Queues the event for a manual attempt now, unless an attempt is under way.
    pub async fn retry_event(&self, id: &str, now: i64) -> StoreResult<RetryOutcome> {
        let mut q = Query::new("UPDATE events SET status = ");
        q.bind(EventStatus::Queued.as_str())
            .push(", next_attempt_at = ")
            .bind(now)
            .push(", next_trigger = ")
            .bind(AttemptTrigger::Manual.as_str())
            .push(", lease_until = NULL, muted_at = NULL, updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id.to_owned())
            .push(" AND (lease_until IS NULL OR lease_until <= ")
            .bind(now)
            .push(")");
        if self.execute(q).await? == 1 {
            return Ok(match self.events_by_ids(&[id.to_owned()]).await?.pop() {
                Some(e) => RetryOutcome::Queued(Box::new(e)),
                None => RetryOutcome::NotFound,
            });
        }
        let mut q = Query::new("SELECT lease_until FROM events WHERE id = ");
        q.bind(id.to_owned());
        Ok(match self.fetch_optional(&self.write, q).await? {
            Some(row) => RetryOutcome::InFlight {
                lease_until: row.try_get::<Option<i64>, _>("lease_until")?.unwrap_or(now),
            },
            None => RetryOutcome::NotFound,
        })
    }

    /// Stops the event's automatic attempts: no next attempt, and an attempt under
    /// way no longer updates it (its lease is dropped). An event not yet delivered
    /// shows as FAILED. A manual retry unmutes it.
    pub async fn mute_event(&self, id: &str, now: i64) -> StoreResult<Option<Event>> {
        let mut q = Query::new("UPDATE events SET status = CASE WHEN status = ");
        q.bind(EventStatus::Successful.as_str())
            .push(" THEN status ELSE ")
            .bind(EventStatus::Failed.as_str())
            .push(
                " END, next_attempt_at = NULL, lease_until = NULL, muted_at = COALESCE(muted_at, ",
            )
            .bind(now)
            .push("), updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id.to_owned());
        if self.execute(q).await? == 0 {
            return Ok(None);
        }
        Ok(self.events_by_ids(&[id.to_owned()]).await?.pop())
    }

    /// The request `event` delivers, as the API shows it: its transformed request
    /// when it has one, else the request as received.
    pub async fn delivered_request(&self, event: &Event) -> StoreResult<Option<RequestRecord>> {
        let Some(mut req) = self.get_request(&event.request_id, true).await? else {
            return Ok(None);
        };
        if let Some(t) = self
            .transformed_requests(std::slice::from_ref(&event.id))
            .await?
            .remove(&event.id)
        {
            req.deliver_as(t);
        }
        Ok(Some(req))
    }

    /// How many events match (`body_filter` aside, which needs the bodies).
    pub async fn count_events(&self, f: &EventFilter) -> StoreResult<i64> {
        let mut q = Query::new("SELECT COUNT(*) AS n FROM events WHERE 1 = 1");
        event_filters(&mut q, f);
        self.count_rows(q).await
    }

    /// Up to `limit` matching events after `after` (by id, ascending).
    pub async fn events_after(
        &self,
        f: &EventFilter,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let filters = |q: &mut Query| event_filters(q, f);
        self.rows_after(EVENT_COLS, "events", &filters, after, limit, rows::event)
            .await
    }

    /// Queues these events for an attempt now (trigger `BULK_RETRY`, carrying
    /// `bulk_retry_id` to the attempt) unless an
    /// attempt is under way, or their transformation failed (a retry would send
    /// the untransformed request; retry the request instead). Returns how many
    /// were queued.
    pub async fn requeue_events(
        &self,
        ids: &[String],
        bulk_retry_id: &str,
        now: i64,
    ) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut q = Query::in_order(self.dialect, "UPDATE events SET status = ");
        q.bind(EventStatus::Queued.as_str())
            .push(", next_attempt_at = ")
            .bind(now)
            .push(", next_trigger = ")
            .bind(AttemptTrigger::BulkRetry.as_str())
            .push(", bulk_retry_id = ")
            .bind(bulk_retry_id.to_owned())
            .push(", lease_until = NULL, muted_at = NULL, updated_at = ")
            .bind(now)
            .push(" WHERE (lease_until IS NULL OR lease_until <= ")
            .bind(now)
            .push(") AND (error_code IS NULL OR error_code <> 'TRANSFORMATION_FAILED') AND id IN ")
            .bind_list(ids.iter().cloned());
        self.execute(q).await
    }
}
