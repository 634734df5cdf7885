//! Delivery attempts: recording their results on the events, and reading them.

use sqlx::Row;

use super::sql::dialect::Dialect;
use super::sql::query::{Query, INSERT_CHUNK};
use super::sql::rows::{self, ATTEMPT_COLS};
use super::sql::scripts::Durability;
use super::sql::text::{opt_json, storable_text};
use super::{AttemptFilter, AttemptOutcome, Page, PageQuery, Store, StoreResult};
use crate::model::{Attempt, EventStatus};

/// Appends the `INSERT INTO attempts …` of `chunk`.
fn push_attempts_insert(q: &mut Query, chunk: &[AttemptOutcome]) -> StoreResult<()> {
    q.push(&format!("INSERT INTO attempts ({ATTEMPT_COLS}) VALUES "));
    q.values(chunk, |r, o| {
        let a = &o.attempt;
        r.bind(a.id.clone())
            .bind(a.event_id.clone())
            .bind(a.destination_id.clone())
            .bind(a.attempt_number)
            .bind(a.trigger.as_str())
            .bind(a.status.as_str())
            .bind(a.response_status)
            .bind(opt_json(&a.response_headers)?)
            .bind(a.response_body.as_deref().map(storable_text))
            .bind(a.error_code.clone())
            .bind(a.error_message.as_deref().map(storable_text))
            .bind(a.requested_url.clone())
            .bind(a.http_method.clone())
            .bind(a.duration_ms)
            .bind(a.created_at)
            .bind(a.bulk_retry_id.clone());
        Ok(())
    })?;
    Ok(())
}

/// Appends the one `UPDATE events` of `chunk`, joining a VALUES list (both backends
/// name its columns column1…columnN).
fn push_events_update(q: &mut Query, chunk: &[AttemptOutcome], now: i64) -> StoreResult<()> {
    q.push(
        "UPDATE events SET status = v.column2, attempts = v.column3, \
         last_attempt_at = v.column4, next_attempt_at = v.column5, \
         response_status = v.column6, error_code = v.column7, \
         successful_at = COALESCE(v.column8, events.successful_at), \
         next_trigger = 'AUTOMATIC', lease_until = NULL, updated_at = ",
    );
    q.bind(now).push(" FROM (VALUES ");
    q.values(chunk, |r, o| {
        let a = &o.attempt;
        let succeeded = o.status == EventStatus::Successful;
        r.bind(a.event_id.clone())
            .bind(o.status.as_str())
            .bind(a.attempt_number)
            .bind(a.created_at)
            .bind(o.next_attempt_at)
            .bind(a.response_status)
            .bind(a.error_code.clone())
            .bind(if succeeded { Some(now) } else { None })
            .bind(o.lease_until);
        Ok(())
    })?;
    // Only while the event still holds the lease this attempt was made under.
    q.push(") AS v WHERE events.id = v.column1 AND events.lease_until = v.column9");
    Ok(())
}

/// Appends the statements that record `outcomes` to a SQLite write script, in
/// the transaction the script opened.
pub(super) fn push_record(q: &mut Query, outcomes: &[AttemptOutcome], now: i64) -> StoreResult<()> {
    for chunk in outcomes.chunks(INSERT_CHUNK) {
        push_attempts_insert(q, chunk)?;
        q.push("; ");
        push_events_update(q, chunk, now)?;
        q.push("; ");
    }
    Ok(())
}

impl Store {
    /// Records attempts and updates their events, in one transaction.
    pub async fn record_attempts(&self, outcomes: &[AttemptOutcome], now: i64) -> StoreResult<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        if self.dialect == Dialect::Sqlite {
            // The whole transaction in one round trip to the writer's thread.
            let mut q = Query::in_order(self.dialect, "BEGIN IMMEDIATE; ");
            push_record(&mut q, outcomes, now)?;
            q.push("COMMIT");
            self.sqlite_script(q, Durability::Bookkeeping).await?;
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        Self::record_attempts_tx(self.dialect, &mut tx, outcomes, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records `outcomes` in the transaction `tx` (statement by statement, for
    /// PostgreSQL; SQLite's scripts use [`push_record`]).
    pub(super) async fn record_attempts_tx(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        outcomes: &[AttemptOutcome],
        now: i64,
    ) -> StoreResult<()> {
        for chunk in outcomes.chunks(INSERT_CHUNK) {
            let mut q = Query::in_order(dialect, "");
            push_attempts_insert(&mut q, chunk)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
            // One UPDATE for the whole chunk, not one per event.
            let mut q = Query::in_order(dialect, "");
            push_events_update(&mut q, chunk, now)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn get_attempt(&self, id: &str) -> StoreResult<Option<Attempt>> {
        self.get_one(ATTEMPT_COLS, "attempts", "id", id, rows::attempt)
            .await
    }

    pub async fn list_attempts(
        &self,
        f: &AttemptFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Attempt>> {
        let filters = |q: &mut Query| {
            q.and_in("event_id", &f.event_ids)
                .and_eq("destination_id", &f.destination_id);
        };
        self.list(
            ATTEMPT_COLS,
            "attempts",
            &filters,
            page,
            rows::attempt,
            |a| &a.id,
        )
        .await
    }

    /// `(failed, total)` attempts to a destination since `since`.
    pub async fn destination_attempt_counts(
        &self,
        destination_id: &str,
        since: i64,
    ) -> StoreResult<(i64, i64)> {
        let mut q = Query::new(
            "SELECT SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed, \
             COUNT(*) AS total FROM attempts WHERE destination_id = ",
        );
        q.bind(destination_id.to_owned())
            .push(" AND created_at >= ")
            .bind(since);
        Ok(match self.fetch_optional(&self.read, q).await? {
            Some(row) => (
                row.try_get::<Option<i64>, _>("failed")?.unwrap_or(0),
                row.try_get("total")?,
            ),
            None => (0, 0),
        })
    }
}
