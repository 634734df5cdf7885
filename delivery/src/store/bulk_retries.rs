//! Bulk retries: the operation, its progress, and the lease on its next step.
//!
//! Every "claim" method is a conditional UPDATE that only one replica can win, so
//! an alert or a bulk-retry step happens once however many replicas run.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::query::Query;
use super::sql::rows::json_col;
use super::sql::text::to_json;
use super::{Page, PageQuery, Store, StoreResult};
use crate::model::BulkRetry;

const BULK_COLS: &str = "id, query, estimated_count, processed_count, retried_count, cursor, \
     lease_until, cancelled_at, completed_at, created_at, updated_at";

fn bulk(row: &AnyRow) -> StoreResult<BulkRetry> {
    Ok(BulkRetry {
        id: row.try_get("id")?,
        query: json_col(row, "query")?,
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

impl Store {
    pub async fn insert_bulk_retry(&self, b: &BulkRetry) -> StoreResult<()> {
        let mut q = Query::new(&format!("INSERT INTO bulk_retries ({BULK_COLS}) VALUES "));
        q.values([b], |r, b| {
            r.bind(b.id.clone())
                .bind(to_json(&b.query)?)
                .bind(b.estimated_count)
                .bind(b.processed_count)
                .bind(b.retried_count)
                .bind(b.cursor.clone())
                .sql("NULL")
                .bind(b.cancelled_at)
                .bind(b.completed_at)
                .bind(b.created_at)
                .bind(b.updated_at);
            Ok(())
        })?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_bulk_retry(&self, id: &str) -> StoreResult<Option<BulkRetry>> {
        self.get_one(BULK_COLS, "bulk_retries", "id", id, bulk)
            .await
    }

    pub async fn list_bulk_retries(&self, page: &PageQuery) -> StoreResult<Page<BulkRetry>> {
        let filters = |_: &mut Query| {};
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

    /// Records a step's progress (and completion) if the step's lease still holds.
    pub async fn save_bulk_progress(&self, b: &BulkRetry, lease_until: i64) -> StoreResult<bool> {
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
            .push(", lease_until = NULL WHERE id = ")
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
}
