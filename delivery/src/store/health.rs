//! Destination health (failure streaks, auto-disable), held events, and backlogs.

use sqlx::Row;

use super::sql::query::Query;
use super::{Store, StoreResult};
use crate::model::{DestinationBacklog, DestinationResults};

impl Store {
    async fn hold_pending(&self, now: i64) -> StoreResult<u64> {
        let mut q = Query::new("UPDATE events SET status = 'HOLD', updated_at = ");
        q.bind(now)
            .push(
                " WHERE status IN ('QUEUED', 'SCHEDULED') AND (lease_until IS NULL OR lease_until <= ",
            )
            .bind(now)
            .push(
                ") AND (destination_id IN (SELECT id FROM destinations WHERE disabled_at IS NOT NULL) \
                 OR connection_id IN (SELECT id FROM connections WHERE paused_at IS NOT NULL))",
            );
        self.execute(q).await
    }

    async fn release_held(&self, now: i64) -> StoreResult<u64> {
        // Due at their creation time: the dispatcher leases by due time, so the
        // oldest held event goes first.
        let mut q = Query::new(
            "UPDATE events SET status = 'QUEUED', next_attempt_at = created_at, \
             next_trigger = 'UNPAUSE', updated_at = ",
        );
        q.bind(now).push(
            " WHERE status = 'HOLD' \
             AND destination_id IN (SELECT id FROM destinations WHERE disabled_at IS NULL) \
             AND connection_id IN (SELECT id FROM connections WHERE paused_at IS NULL)",
        );
        self.execute(q).await
    }
}

impl Store {
    /// Counts consecutive failures per destination and disables those past their
    /// threshold (`default_after` when the destination sets none; 0 = never).
    /// Returns the ids disabled by this call.
    pub async fn record_destination_results(
        &self,
        results: &[DestinationResults],
        default_after: i64,
        now: i64,
    ) -> StoreResult<Vec<String>> {
        // Most batches are all successes on healthy destinations: nothing to
        // write. Find on a reader which streaks actually change.
        let ids: Vec<String> = results
            .iter()
            .filter(|r| r.any_success && r.trailing_failures == 0)
            .map(|r| r.destination_id.clone())
            .collect();
        let mut streaking: Vec<String> = Vec::new();
        if !ids.is_empty() {
            let mut q = Query::new(
                "SELECT id FROM destinations WHERE consecutive_failures <> 0 AND id IN ",
            );
            q.bind_list(ids);
            for row in self.fetch_all(&self.read, q).await? {
                streaking.push(row.try_get("id")?);
            }
        }
        let results: Vec<&DestinationResults> = results
            .iter()
            .filter(|r| {
                !(r.any_success && r.trailing_failures == 0)
                    || streaking.contains(&r.destination_id)
            })
            .collect();
        let mut disabled = Vec::new();
        if results.is_empty() {
            return Ok(disabled);
        }
        let mut tx = self.begin_write().await?;
        for r in results {
            let mut q = Query::new("UPDATE destinations SET consecutive_failures = ");
            if r.any_success {
                q.bind(r.trailing_failures);
            } else {
                q.push("consecutive_failures + ").bind(r.trailing_failures);
            }
            q.push(" WHERE id = ").bind(r.destination_id.clone());
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
            if r.trailing_failures == 0 {
                continue;
            }
            let mut q = Query::new("UPDATE destinations SET disabled_at = ");
            q.bind(now)
                .push(", disabled_reason = ")
                .bind(r.reason.clone())
                .push(", disable_alerted_at = NULL, updated_at = ")
                .bind(now)
                .push(" WHERE id = ")
                .bind(r.destination_id.clone())
                .push(" AND disabled_at IS NULL AND COALESCE(auto_disable_after, ")
                .bind(default_after)
                .push(") > 0 AND consecutive_failures >= COALESCE(auto_disable_after, ")
                .bind(default_after)
                .push(")");
            let (sql, args) = q.build()?;
            if sqlx::query_with(&sql, args)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
            {
                disabled.push(r.destination_id.clone());
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }

    /// Forgets a destination's failure streak and auto-disable reason (on enable).
    pub async fn reset_destination_health(&self, id: &str) -> StoreResult<()> {
        let mut q = Query::new(
            "UPDATE destinations SET consecutive_failures = 0, disabled_reason = NULL, \
             disable_alerted_at = NULL WHERE id = ",
        );
        q.bind(id.to_owned());
        self.execute(q).await?;
        Ok(())
    }

    /// Marks pending events of disabled destinations and paused connections HOLD,
    /// and puts held events whose destination and connection are active again
    /// back in the queue, due in creation order (oldest first). Returns
    /// `(held, released)`.
    pub async fn hold_and_release(&self, now: i64) -> StoreResult<(u64, u64)> {
        // Most of the time nothing is disabled or paused: skip the scan of the
        // pending events then (this runs every poll interval).
        let q = Query::new(
            "SELECT (SELECT COUNT(*) FROM destinations WHERE disabled_at IS NOT NULL) \
             + (SELECT COUNT(*) FROM connections WHERE paused_at IS NOT NULL) AS n",
        );
        let inactive = self.count_rows(q).await?;
        let held = if inactive == 0 {
            0
        } else {
            self.hold_pending(now).await?
        };
        let q = Query::new("SELECT COUNT(*) AS n FROM events WHERE status = 'HOLD'");
        let released = if self.count_rows(q).await? == 0 {
            0
        } else {
            self.release_held(now).await?
        };
        Ok((held, released))
    }

    pub async fn backlogs(&self) -> StoreResult<Vec<DestinationBacklog>> {
        let mut q = Query::new(
            "SELECT destination_id, \
             SUM(CASE WHEN status IN ('QUEUED', 'SCHEDULED') THEN 1 ELSE 0 END) AS pending, \
             SUM(CASE WHEN status IN ('QUEUED', 'SCHEDULED') AND next_attempt_at <= ",
        );
        q.bind(crate::clock::now_ms()).push(
            " THEN 1 ELSE 0 END) AS due, \
             SUM(CASE WHEN status = 'HOLD' THEN 1 ELSE 0 END) AS held, \
             MIN(created_at) AS oldest \
             FROM events WHERE status IN ('QUEUED', 'SCHEDULED', 'HOLD') \
             GROUP BY destination_id ORDER BY destination_id",
        );
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(|r| {
                Ok(DestinationBacklog {
                    destination_id: r.try_get("destination_id")?,
                    pending: r.try_get::<Option<i64>, _>("pending")?.unwrap_or(0),
                    due: r.try_get::<Option<i64>, _>("due")?.unwrap_or(0),
                    held: r.try_get::<Option<i64>, _>("held")?.unwrap_or(0),
                    oldest_pending_at: r.try_get("oldest")?,
                })
            })
            .collect()
    }
}
