//! Destination health (failure streaks, auto-disable), held events, and backlogs.

use sqlx::Row;

use super::sql::dialect::Dialect;
use super::sql::query::Query;
use super::{Store, StoreResult};
use crate::model::{DestinationBacklog, DestinationResults};

impl Store {
    async fn hold_pending(&self, now: i64) -> StoreResult<u64> {
        // From each disabled destination and paused connection to its pending
        // events, by index (`CROSS JOIN` keeps SQLite from starting at the
        // events): the backlog of active ones is never read. The outer
        // conditions repeat the inner ones for PostgreSQL, which re-checks them
        // on a row another transaction changed meanwhile.
        let pending = |q: &mut Query, e: &str| {
            q.push(&format!(
                "{e}status IN ('QUEUED', 'SCHEDULED') \
                 AND ({e}lease_until IS NULL OR {e}lease_until <= "
            ))
            .bind(now)
            .push(")");
        };
        let mut q = Query::new("UPDATE events SET status = 'HOLD', updated_at = ");
        q.bind(now).push(" WHERE ");
        pending(&mut q, "");
        q.push(
            " AND id IN (SELECT e.id FROM destinations d CROSS JOIN events e \
             WHERE d.disabled_at IS NOT NULL AND e.destination_id = d.id AND ",
        );
        pending(&mut q, "e.");
        q.push(
            " UNION ALL SELECT e.id FROM connections c CROSS JOIN events e \
             WHERE c.paused_at IS NOT NULL AND e.connection_id = c.id AND ",
        );
        pending(&mut q, "e.");
        q.push(")");
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
        // Whether any event is held at all: one index entry read, not all of them.
        let q = Query::new(
            "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM events WHERE status = 'HOLD' \
             LIMIT 1) AS h",
        );
        let released = if self.count_rows(q).await? == 0 {
            0
        } else {
            self.release_held(now).await?
        };
        Ok((held, released))
    }

    /// Queued, scheduled and held events of each destination that has any
    /// (`due` and `oldest_pending_at` are not filled in: see
    /// [`Store::backlog_ages`]). Reads every waiting event once: on a large
    /// backlog this is the monitor's most expensive read, which it paces by its
    /// cost. SQLite counts destination by destination, reading index entries
    /// only; PostgreSQL counts in one (parallel) pass, which its planner runs
    /// far faster than a thousand small counts.
    pub async fn backlog_counts(&self) -> StoreResult<Vec<DestinationBacklog>> {
        let q = Query::new(match self.dialect {
            Dialect::Sqlite => {
                "SELECT d.id AS destination_id, \
                 (SELECT COUNT(*) FROM events e WHERE e.destination_id = d.id \
                  AND e.status IN ('QUEUED', 'SCHEDULED')) AS pending, \
                 (SELECT COUNT(*) FROM events e WHERE e.destination_id = d.id \
                  AND e.status = 'HOLD') AS held \
                 FROM destinations d ORDER BY d.id"
            }
            Dialect::Postgres => {
                "SELECT destination_id, \
                 SUM(CASE WHEN status = 'HOLD' THEN 0 ELSE 1 END) AS pending, \
                 SUM(CASE WHEN status = 'HOLD' THEN 1 ELSE 0 END) AS held \
                 FROM events WHERE status IN ('QUEUED', 'SCHEDULED', 'HOLD') \
                 GROUP BY destination_id ORDER BY destination_id"
            }
        });
        let mut out = Vec::new();
        for r in self.fetch_all(&self.read, q).await? {
            let pending = r.try_get::<Option<i64>, _>("pending")?.unwrap_or(0);
            let held = r.try_get::<Option<i64>, _>("held")?.unwrap_or(0);
            if pending + held > 0 {
                out.push(DestinationBacklog {
                    destination_id: r.try_get("destination_id")?,
                    pending,
                    held,
                    ..Default::default()
                });
            }
        }
        Ok(out)
    }

    /// For each destination with queued, scheduled or held events, the creation
    /// time of the oldest: a few index seeks per destination, however many
    /// events wait. Ids start with their creation time (ULIDs), so the smallest
    /// id of each status is its oldest event.
    pub async fn backlog_ages(&self) -> StoreResult<Vec<(String, i64)>> {
        let mut q = Query::new("SELECT d.id AS destination_id");
        for (col, status) in [("q", "QUEUED"), ("s", "SCHEDULED"), ("h", "HOLD")] {
            q.push(&format!(
                ", (SELECT o.created_at FROM events o WHERE o.id = \
                 (SELECT MIN(e.id) FROM events e WHERE e.destination_id = d.id \
                 AND e.status = '{status}')) AS {col}"
            ));
        }
        q.push(" FROM destinations d ORDER BY d.id");
        let mut out = Vec::new();
        for r in self.fetch_all(&self.read, q).await? {
            let oldest = ["q", "s", "h"]
                .iter()
                .map(|c| r.try_get::<Option<i64>, _>(*c))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .min();
            if let Some(t) = oldest {
                out.push((r.try_get("destination_id")?, t));
            }
        }
        Ok(out)
    }

    /// One destination's backlog, in full (`GET /destinations/{id}/backlog`):
    /// reads that destination's waiting events only.
    pub async fn backlog_of(&self, destination_id: &str) -> StoreResult<DestinationBacklog> {
        let mut q = Query::new(
            "SELECT \
             SUM(CASE WHEN status IN ('QUEUED', 'SCHEDULED') THEN 1 ELSE 0 END) AS pending, \
             SUM(CASE WHEN status IN ('QUEUED', 'SCHEDULED') AND next_attempt_at <= ",
        );
        q.bind(crate::clock::now_ms())
            .push(
                " THEN 1 ELSE 0 END) AS due, \
                 SUM(CASE WHEN status = 'HOLD' THEN 1 ELSE 0 END) AS held, \
                 MIN(created_at) AS oldest \
                 FROM events WHERE destination_id = ",
            )
            .bind(destination_id.to_owned())
            .push(" AND status IN ('QUEUED', 'SCHEDULED', 'HOLD')");
        let row = self.fetch_optional(&self.read, q).await?;
        let get = |c: &str| -> StoreResult<Option<i64>> {
            Ok(match &row {
                Some(r) => r.try_get::<Option<i64>, _>(c)?,
                None => None,
            })
        };
        Ok(DestinationBacklog {
            destination_id: destination_id.to_owned(),
            pending: get("pending")?.unwrap_or(0),
            due: get("due")?.unwrap_or(0),
            held: get("held")?.unwrap_or(0),
            oldest_pending_at: get("oldest")?,
        })
    }
}
