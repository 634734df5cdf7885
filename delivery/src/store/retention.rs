//! Retention: deleting what is older than the window, a small batch at a time so
//! the (SQLite) writer is never held for long.
//!
//! Age is read off the ids, which start with their creation time (ULIDs), so
//! "older than the cut-off" is a range of the primary key and needs no index.
//! Nothing that can still be delivered is deleted: events waiting for an attempt
//! (`SCHEDULED`, `QUEUED`, `HOLD`) stay whatever their age, and so do their
//! requests, and requests not routed yet.

use hookyard_core::id::{make_id, IdKind};
use sqlx::Row;

use super::sql::dialect::Dialect;
use super::sql::query::Query;
use super::{Store, StoreResult};

/// Rows deleted by one [`Store::prune_step`], by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub attempts: u64,
    pub executions: u64,
    pub ignored_events: u64,
    pub events: u64,
    pub requests: u64,
    pub issues: u64,
    pub bulk_retries: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.attempts
            + self.executions
            + self.ignored_events
            + self.events
            + self.requests
            + self.issues
            + self.bulk_retries
    }
}

/// The smallest id of `kind` created at `cutoff_ms`: every id below it is older.
fn first_id_at(kind: IdKind, cutoff_ms: i64) -> String {
    make_id(kind, u64::try_from(cutoff_ms).unwrap_or(0), 0)
}

impl Store {
    /// Deletes up to `batch` rows of each kind created before `cutoff_ms`; call
    /// again while it deletes anything. Each table's batch is its own short
    /// transaction.
    pub async fn prune_step(&self, cutoff_ms: i64, batch: i64) -> StoreResult<Pruned> {
        let mut p = Pruned {
            attempts: self
                .delete_ids_below("attempts", IdKind::Attempt, cutoff_ms, batch)
                .await?,
            executions: self
                .delete_ids_below(
                    "transformation_executions",
                    IdKind::TransformationExecution,
                    cutoff_ms,
                    batch,
                )
                .await?,
            ignored_events: self
                .delete_ids_below("ignored_events", IdKind::IgnoredEvent, cutoff_ms, batch)
                .await?,
            events: self.prune_finished_events(cutoff_ms, batch).await?,
            ..Pruned::default()
        };
        p.requests = self.prune_requests(cutoff_ms, batch).await?;
        p.issues = self.prune_closed_issues(cutoff_ms, batch).await?;
        p.bulk_retries = self.prune_finished_bulk_retries(cutoff_ms, batch).await?;
        Ok(p)
    }

    /// Gives the pages freed by deletions back to the file system (SQLite; a
    /// database created before incremental vacuum was on keeps reusing them
    /// instead). PostgreSQL's autovacuum does this itself.
    pub async fn reclaim_space(&self) -> StoreResult<()> {
        if self.dialect == Dialect::Sqlite {
            // Bounded, like the deletions: 4,000 pages (16 MiB) at a time.
            sqlx::query("PRAGMA incremental_vacuum(4000)")
                .execute(&self.write)
                .await?;
        }
        Ok(())
    }

    async fn delete_ids_below(
        &self,
        table: &str,
        kind: IdKind,
        cutoff_ms: i64,
        batch: i64,
    ) -> StoreResult<u64> {
        self.delete_batch(table, "id < ", first_id_at(kind, cutoff_ms), batch)
            .await
    }

    /// Deletes the first `batch` rows (by id) of `table` where `condition` (SQL
    /// ending in a comparison) holds against `bound`.
    async fn delete_batch<T>(
        &self,
        table: &str,
        condition: &str,
        bound: T,
        batch: i64,
    ) -> StoreResult<u64>
    where
        T: sqlx::Encode<'static, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + 'static,
    {
        let mut q = Query::new(&format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {condition}"
        ));
        q.bind(bound)
            .push(" ORDER BY id LIMIT ")
            .bind(batch)
            .push(")");
        self.execute(q).await
    }

    /// Events that are done (delivered or failed for good) and their transformed
    /// request, together, so no event is left delivering without its data.
    async fn prune_finished_events(&self, cutoff_ms: i64, batch: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut q =
            Query::new("SELECT id FROM events WHERE status IN ('SUCCESSFUL', 'FAILED') AND id < ");
        q.bind(first_id_at(IdKind::Event, cutoff_ms))
            .push(" ORDER BY id LIMIT ")
            .bind(batch);
        q.push(&self.dialect.skip_locked("events"));
        let (sql, args) = q.build()?;
        let ids: Vec<String> = sqlx::query_with(&sql, args)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut deleted = 0;
        for table_key in [("event_data", "event_id"), ("events", "id")] {
            let (table, key) = table_key;
            let mut q = Query::in_order(
                self.dialect,
                &format!("DELETE FROM {table} WHERE {key} IN ("),
            );
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(id.clone());
            }
            q.push(")");
            let (sql, args) = q.build()?;
            let n = sqlx::query_with(&sql, args)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if table == "events" {
                deleted = n;
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Routed requests none of whose events remain, and no bookmark keeps (a
    /// bookmark is a request saved to be sent again, for as long as it exists).
    async fn prune_requests(&self, cutoff_ms: i64, batch: i64) -> StoreResult<u64> {
        let mut q = Query::new(
            "DELETE FROM requests WHERE id IN (SELECT r.id FROM requests r WHERE r.routed = 1 \
             AND r.id < ",
        );
        q.bind(first_id_at(IdKind::Request, cutoff_ms))
            .push(
                " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.request_id = r.id) \
                 AND NOT EXISTS (SELECT 1 FROM bookmarks b WHERE b.request_id = r.id) \
                 ORDER BY r.id LIMIT ",
            )
            .bind(batch)
            .push(")");
        self.execute(q).await
    }

    /// Issues resolved or ignored, last seen before the cut-off.
    async fn prune_closed_issues(&self, cutoff_ms: i64, batch: i64) -> StoreResult<u64> {
        let closed = "status IN ('RESOLVED', 'IGNORED') AND last_seen_at < ";
        self.delete_batch("issues", closed, cutoff_ms, batch).await
    }

    async fn prune_finished_bulk_retries(&self, cutoff_ms: i64, batch: i64) -> StoreResult<u64> {
        let finished = "COALESCE(completed_at, cancelled_at) < ";
        self.delete_batch("bulk_retries", finished, cutoff_ms, batch)
            .await
    }
}
