//! Bulk retries: the operation, its progress, and the lease on its next step;
//! the requests and ignored events a request or ignored-event bulk retry walks.
//!
//! Every "claim" method is a conditional UPDATE that only one replica can win, so
//! an alert or a bulk-retry step happens once however many replicas run.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::query::Query;
use super::sql::rows::{self, IGNORED_COLS, REQUEST_COLS};
use super::sql::text::to_json;
use super::{Page, PageQuery, RequestFilter, Store, StoreError, StoreResult};
use crate::model::{Bounds, BulkKind, BulkQuery, BulkRetry, IgnoredEvent, RequestRecord};

const BULK_COLS: &str = "id, query, estimated_count, processed_count, retried_count, cursor, \
     lease_until, cancelled_at, completed_at, created_at, updated_at, kind";

fn bulk(row: &AnyRow) -> StoreResult<BulkRetry> {
    let kind: String = row.try_get("kind")?;
    let kind = BulkKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("column kind: {kind:?}")))?;
    let text: String = row.try_get("query")?;
    let query = serde_json::from_str(&text)
        .and_then(|v| BulkQuery::from_json(kind, v))
        .map_err(|e| StoreError::Corrupt(format!("column query: {e}")))?;
    Ok(BulkRetry {
        id: row.try_get("id")?,
        query,
        estimated_count: row.try_get("estimated_count")?,
        processed_count: row.try_get("processed_count")?,
        retried_count: row.try_get("retried_count")?,
        cursor: row.try_get("cursor")?,
        cancelled_at: row.try_get("cancelled_at")?,
        completed_at: row.try_get("completed_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Which bulk retries a list shows: always one kind.
#[derive(Debug, Clone)]
pub struct BulkRetryFilter {
    pub kind: BulkKind,
    pub ids: Vec<String>,
    /// `Some(true)`: unfinished ones only; `Some(false)`: finished or cancelled.
    pub in_progress: Option<bool>,
    pub created_at: Bounds,
    pub cancelled_at: Bounds,
    pub completed_at: Bounds,
}

/// The SQL part of an ignored-event bulk retry's query.
#[derive(Debug, Clone, Default)]
pub struct IgnoredSelection {
    pub causes: Vec<String>,
    /// `None`: any connection; `Some(empty)`: none (nothing matches).
    pub connection_ids: Option<Vec<String>>,
}

/// Appends the terms; false when the selection cannot match anything.
fn ignored_terms(q: &mut Query, f: &IgnoredSelection) -> bool {
    if !f.causes.is_empty() {
        q.push(" AND cause IN ").bind_list(f.causes.iter().cloned());
    }
    match &f.connection_ids {
        None => true,
        Some(ids) if ids.is_empty() => false,
        Some(ids) => {
            q.push(" AND connection_id IN ")
                .bind_list(ids.iter().cloned());
            true
        }
    }
}

impl Store {
    pub async fn insert_bulk_retry(&self, b: &BulkRetry) -> StoreResult<()> {
        let query = b
            .query
            .to_json()
            .map_err(|e| StoreError::Corrupt(format!("bulk retry query: {e}")))?;
        let mut q = Query::new(&format!("INSERT INTO bulk_retries ({BULK_COLS}) VALUES "));
        q.values([b], |r, b| {
            r.bind(b.id.clone())
                .bind(to_json(&query)?)
                .bind(b.estimated_count)
                .bind(b.processed_count)
                .bind(b.retried_count)
                .bind(b.cursor.clone())
                .sql("NULL")
                .bind(b.cancelled_at)
                .bind(b.completed_at)
                .bind(b.created_at)
                .bind(b.updated_at)
                .bind(b.query.kind().as_str());
            Ok(())
        })?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_bulk_retry(&self, id: &str) -> StoreResult<Option<BulkRetry>> {
        self.get_one(BULK_COLS, "bulk_retries", "id", id, bulk)
            .await
    }

    pub async fn list_bulk_retries(
        &self,
        f: &BulkRetryFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<BulkRetry>> {
        let filters = |q: &mut Query| {
            q.push(" AND kind = ").bind(f.kind.as_str());
            q.and_in("id", &f.ids)
                .and_bounds("created_at", &f.created_at)
                .and_bounds("cancelled_at", &f.cancelled_at)
                .and_bounds("completed_at", &f.completed_at);
            match f.in_progress {
                Some(true) => {
                    q.push(" AND completed_at IS NULL AND cancelled_at IS NULL");
                }
                Some(false) => {
                    q.push(" AND (completed_at IS NOT NULL OR cancelled_at IS NOT NULL)");
                }
                None => {}
            }
        };
        self.list(BULK_COLS, "bulk_retries", &filters, page, bulk, |b| &b.id)
            .await
    }

    /// Takes the next step of an unfinished bulk retry, until `lease_until`.
    pub async fn claim_bulk_step(
        &self,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<BulkRetry>> {
        let q = Query::new(
            "SELECT id FROM bulk_retries WHERE completed_at IS NULL AND cancelled_at IS NULL \
             ORDER BY id",
        );
        let candidates: Vec<String> = self
            .fetch_all(&self.write, q)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        for id in candidates {
            let mut q = Query::new("UPDATE bulk_retries SET lease_until = ");
            q.bind(lease_until)
                .push(" WHERE id = ")
                .bind(id.clone())
                .push(
                    " AND completed_at IS NULL AND cancelled_at IS NULL \
                       AND (lease_until IS NULL OR lease_until <= ",
                )
                .bind(now)
                .push(")");
            if self.execute(q).await? == 1 {
                return self.get_bulk_retry(&id).await;
            }
        }
        Ok(None)
    }

    /// Records a step's progress (and completion) if the step's lease still
    /// holds, and ends the lease.
    pub async fn save_bulk_progress(&self, b: &BulkRetry, lease_until: i64) -> StoreResult<bool> {
        self.write_bulk_progress(b, lease_until, true).await
    }

    /// Records progress within a step, keeping the lease: false when the lease
    /// is lost or the operation was cancelled meanwhile (the step stops there).
    /// Request and ignored-event retries save after each record, so a restart
    /// routes at most one request again.
    pub async fn save_bulk_cursor(&self, b: &BulkRetry, lease_until: i64) -> StoreResult<bool> {
        self.write_bulk_progress(b, lease_until, false).await
    }

    async fn write_bulk_progress(
        &self,
        b: &BulkRetry,
        lease_until: i64,
        release: bool,
    ) -> StoreResult<bool> {
        let mut q = Query::new("UPDATE bulk_retries SET processed_count = ");
        q.bind(b.processed_count)
            .push(", retried_count = ")
            .bind(b.retried_count)
            .push(", cursor = ")
            .bind(b.cursor.clone())
            .push(", completed_at = ")
            .bind(b.completed_at)
            .push(", updated_at = ")
            .bind(b.updated_at)
            .push(if release {
                ", lease_until = NULL WHERE id = "
            } else {
                " WHERE cancelled_at IS NULL AND id = "
            })
            .bind(b.id.clone())
            .push(" AND lease_until = ")
            .bind(lease_until);
        Ok(self.execute(q).await? == 1)
    }

    pub async fn cancel_bulk_retry(&self, id: &str, now: i64) -> StoreResult<Option<BulkRetry>> {
        let mut q = Query::new("UPDATE bulk_retries SET cancelled_at = ");
        q.bind(now)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id.to_owned())
            .push(" AND completed_at IS NULL AND cancelled_at IS NULL");
        self.execute(q).await?;
        self.get_bulk_retry(id).await
    }

    pub async fn count_requests_matching(&self, f: &RequestFilter) -> StoreResult<i64> {
        let mut q = Query::new("SELECT COUNT(*) AS n FROM requests WHERE 1 = 1");
        super::requests::request_filters(&mut q, f);
        self.count_rows(q).await
    }

    /// Up to `limit` matching requests after `after` (by id, ascending), without
    /// their bodies.
    pub async fn requests_after(
        &self,
        f: &RequestFilter,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<RequestRecord>> {
        let filters = |q: &mut Query| super::requests::request_filters(q, f);
        self.rows_after(REQUEST_COLS, "requests", &filters, after, limit, |r| {
            rows::request(r, false)
        })
        .await
    }

    pub async fn count_ignored_matching(&self, f: &IgnoredSelection) -> StoreResult<i64> {
        let mut q = Query::new("SELECT COUNT(*) AS n FROM ignored_events WHERE 1 = 1");
        if !ignored_terms(&mut q, f) {
            return Ok(0);
        }
        self.count_rows(q).await
    }

    /// Up to `limit` matching ignored events after `after` (by id, ascending).
    pub async fn ignored_after(
        &self,
        f: &IgnoredSelection,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<IgnoredEvent>> {
        if !ignored_terms(&mut Query::new(""), f) {
            return Ok(Vec::new());
        }
        let filters = |q: &mut Query| {
            ignored_terms(q, f);
        };
        self.rows_after(
            IGNORED_COLS,
            "ignored_events",
            &filters,
            after,
            limit,
            rows::ignored,
        )
        .await
    }

    /// Removes an ignored event whose connection has now taken its request (a
    /// retry made an event of it), so its request no longer counts it and a
    /// later bulk retry does not route it again.
    pub async fn resolve_ignored_event(&self, ig: &IgnoredEvent, now: i64) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut q = Query::new("DELETE FROM ignored_events WHERE id = ");
        q.bind(ig.id.clone());
        let (sql, args) = q.build()?;
        let n = sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        if n.rows_affected() > 0 {
            let mut q =
                Query::new("UPDATE requests SET ignored_count = ignored_count - 1, updated_at = ");
            q.bind(now)
                .push(" WHERE ignored_count > 0 AND id = ")
                .bind(ig.request_id.clone());
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
