//! Storage for operating deliveries: issues, issue triggers, destination health
//! (auto-disable), held events, backlogs, alert claims and bulk retries.
//!
//! Every "claim" method is a conditional UPDATE that only one replica can win, so
//! an alert or a bulk-retry step happens once however many replicas run.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::query::Query;
use super::rows::{self, EVENT_COLS};
use super::sql::{push_event_filters, to_json, update_all};
use super::{EventFilter, Page, PageQuery, Store, StoreError, StoreResult};
use crate::model::BulkRetry;
use crate::model::{
    Channels, Failure, Issue, IssueFilter, IssueStatus, IssueTrigger, IssueType, TriggerConfigs,
};
use crate::model::{AttemptTrigger, DestinationBacklog, DestinationResults, Event, EventStatus};

const ISSUE_COLS: &str = "id, type, fingerprint, status, connection_id, destination_id, \
     response_status, error_code, event_count, opened_count, final_count, reference_event_id, \
     reference_attempt_id, opened_at, first_seen_at, last_seen_at, dismissed_at, \
     auto_resolved_at, resolved_at, alerted_at, alerted_count, recovery_alerted_at, \
     created_at, updated_at";
const TRIGGER_COLS: &str = "id, name, type, configs, channels, disabled_at, created_at, updated_at";
const BULK_COLS: &str = "id, query, estimated_count, processed_count, retried_count, cursor, \
     lease_until, cancelled_at, completed_at, created_at, updated_at";

fn issue(row: &AnyRow) -> StoreResult<Issue> {
    let t: String = row.try_get("type")?;
    let s: String = row.try_get("status")?;
    Ok(Issue {
        id: row.try_get("id")?,
        issue_type: IssueType::parse(&t)
            .ok_or_else(|| StoreError::Corrupt(format!("issue type {t:?}")))?,
        fingerprint: row.try_get("fingerprint")?,
        status: IssueStatus::parse(&s)
            .ok_or_else(|| StoreError::Corrupt(format!("issue status {s:?}")))?,
        connection_id: row.try_get("connection_id")?,
        destination_id: row.try_get("destination_id")?,
        response_status: row.try_get("response_status")?,
        error_code: row.try_get("error_code")?,
        event_count: row.try_get("event_count")?,
        opened_count: row.try_get("opened_count")?,
        final_count: row.try_get("final_count")?,
        reference_event_id: row.try_get("reference_event_id")?,
        reference_attempt_id: row.try_get("reference_attempt_id")?,
        opened_at: row.try_get("opened_at")?,
        first_seen_at: row.try_get("first_seen_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        dismissed_at: row.try_get("dismissed_at")?,
        auto_resolved_at: row.try_get("auto_resolved_at")?,
        resolved_at: row.try_get("resolved_at")?,
        alerted_at: row.try_get("alerted_at")?,
        alerted_count: row.try_get("alerted_count")?,
        recovery_alerted_at: row.try_get("recovery_alerted_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn json_col<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

fn trigger(row: &AnyRow) -> StoreResult<IssueTrigger> {
    let t: String = row.try_get("type")?;
    Ok(IssueTrigger {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        issue_type: IssueType::parse(&t)
            .ok_or_else(|| StoreError::Corrupt(format!("trigger type {t:?}")))?,
        configs: json_col::<TriggerConfigs>(row, "configs")?,
        channels: json_col::<Channels>(row, "channels")?,
        disabled_at: row.try_get("disabled_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

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

fn issue_filters(q: &mut Query, f: &IssueFilter) {
    q.and_eq("id", &f.id)
        .and_eq("connection_id", &f.connection_id)
        .and_eq("destination_id", &f.destination_id);
    if let Some(t) = f.issue_type {
        q.push(" AND type = ").bind(t.as_str());
    }
    if let Some(s) = f.status {
        q.push(" AND status = ").bind(s.as_str());
    }
}

impl Store {
    async fn issues_where(&self, cond: &str) -> StoreResult<Vec<Issue>> {
        let q = Query::new(&format!(
            "SELECT {ISSUE_COLS} FROM issues WHERE {cond} ORDER BY id"
        ));
        self.fetch_all(&self.write, q)
            .await?
            .iter()
            .map(issue)
            .collect()
    }

    /// `UPDATE {table} SET {col} = now WHERE id = ? AND {col} IS NULL`: true if
    /// this call set it.
    async fn claim(
        &self,
        table: &str,
        col: &str,
        id: &str,
        now: i64,
        extra: &str,
    ) -> StoreResult<bool> {
        let mut q = Query::new(&format!("UPDATE {table} SET {col} = "));
        q.bind(now)
            .push(" WHERE id = ")
            .bind(id.to_owned())
            .push(&format!(" AND {col} IS NULL{extra}"));
        Ok(self.execute(q).await? == 1)
    }

    async fn unset(&self, table: &str, col: &str, id: &str) -> StoreResult<()> {
        let mut q = Query::new(&format!("UPDATE {table} SET {col} = NULL WHERE id = "));
        q.bind(id.to_owned());
        self.execute(q).await?;
        Ok(())
    }

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

    async fn issues_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Issue>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Query::new(&format!("SELECT {ISSUE_COLS} FROM issues WHERE id IN "));
        q.bind_list(ids.iter().cloned());
        q.push(" ORDER BY id");
        self.fetch_all(&self.write, q)
            .await?
            .iter()
            .map(issue)
            .collect()
    }
}

impl Store {
    /// Groups failures into issues (opening resolved or dismissed ones again) and
    /// links each failed event to its issue. Returns the issues touched.
    pub async fn record_failures(&self, failures: &[Failure], now: i64) -> StoreResult<Vec<Issue>> {
        let mut touched: Vec<String> = Vec::new();
        let mut tx = self.write.begin().await?;
        for f in failures {
            let id = crate::clock::new_id(hookyard_core::id::IdKind::Issue);
            let mut q = Query::new(&format!("INSERT INTO issues ({ISSUE_COLS}) VALUES "));
            q.values([f], |r, f| {
                r.bind(id.clone())
                    .bind(f.issue_type.as_str())
                    .bind(f.fingerprint())
                    .bind(IssueStatus::Opened.as_str())
                    .bind(f.connection_id.clone())
                    .bind(f.destination_id.clone())
                    .bind(f.response_status)
                    .bind(f.error_code.clone())
                    .sql("1")
                    .sql("1")
                    .bind(i64::from(f.is_final))
                    .bind(f.event_id.clone())
                    .bind(f.attempt_id.clone())
                    .bind(now)
                    .bind(now)
                    .bind(now)
                    .sql("NULL")
                    .sql("NULL")
                    .sql("NULL")
                    .sql("NULL")
                    .sql("0")
                    .sql("NULL")
                    .bind(now)
                    .bind(now);
                Ok(())
            })?;
            // A resolved or dismissed issue opens again; an ignored one stays
            // ignored but keeps counting.
            let reopen = "(issues.status = 'RESOLVED' OR issues.dismissed_at IS NOT NULL)";
            q.push(&format!(
                " ON CONFLICT (fingerprint) DO UPDATE SET \
                 event_count = issues.event_count + 1, \
                 opened_count = CASE WHEN {reopen} THEN 1 ELSE issues.opened_count + 1 END, \
                 final_count = CASE WHEN {reopen} THEN excluded.final_count \
                   ELSE issues.final_count + excluded.final_count END, \
                 opened_at = CASE WHEN {reopen} THEN excluded.opened_at ELSE issues.opened_at END, \
                 alerted_at = CASE WHEN {reopen} THEN NULL ELSE issues.alerted_at END, \
                 alerted_count = CASE WHEN {reopen} THEN 0 ELSE issues.alerted_count END, \
                 recovery_alerted_at = CASE WHEN {reopen} THEN NULL ELSE issues.recovery_alerted_at END, \
                 resolved_at = CASE WHEN {reopen} THEN NULL ELSE issues.resolved_at END, \
                 auto_resolved_at = CASE WHEN {reopen} THEN NULL ELSE issues.auto_resolved_at END, \
                 status = CASE WHEN {reopen} THEN 'OPENED' ELSE issues.status END, \
                 dismissed_at = NULL, \
                 last_seen_at = excluded.last_seen_at, \
                 reference_event_id = COALESCE(excluded.reference_event_id, issues.reference_event_id), \
                 reference_attempt_id = COALESCE(excluded.reference_attempt_id, issues.reference_attempt_id), \
                 updated_at = excluded.updated_at \
                 RETURNING id"
            ));
            let (sql, args) = q.build()?;
            let row = sqlx::query_with(&sql, args).fetch_one(&mut *tx).await?;
            let issue_id: String = row.try_get("id")?;
            if let Some(event_id) = &f.event_id {
                let mut q = Query::new("UPDATE events SET issue_id = ");
                q.bind(issue_id.clone())
                    .push(" WHERE id = ")
                    .bind(event_id.clone());
                let (sql, args) = q.build()?;
                sqlx::query_with(&sql, args).execute(&mut *tx).await?;
            }
            if !touched.contains(&issue_id) {
                touched.push(issue_id);
            }
        }
        tx.commit().await?;
        self.issues_by_ids(&touched).await
    }

    /// Resolves the open delivery issues of these connections (deliveries on them
    /// succeed again). Returns the issues resolved.
    pub async fn resolve_delivery_issues(
        &self,
        connection_ids: &[String],
        now: i64,
    ) -> StoreResult<Vec<Issue>> {
        if connection_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Called after every batch of results: look on a reader first, so the
        // (single, on SQLite) writer only works when there is something to resolve.
        let mut q = Query::new(
            "SELECT COUNT(*) AS n FROM issues WHERE type IN ('delivery', 'transformation') \
             AND status IN ('OPENED', 'ACKNOWLEDGED') AND connection_id IN ",
        );
        q.bind_list(connection_ids.iter().cloned());
        if self.count_rows(q).await? == 0 {
            return Ok(Vec::new());
        }
        let mut q = Query::new("UPDATE issues SET status = 'RESOLVED', resolved_at = ");
        q.bind(now)
            .push(", auto_resolved_at = ")
            .bind(now)
            .push(", updated_at = ")
            .bind(now)
            .push(
                " WHERE type IN ('delivery', 'transformation') \
                 AND status IN ('OPENED', 'ACKNOWLEDGED') AND connection_id IN ",
            )
            .bind_list(connection_ids.iter().cloned())
            .push(" RETURNING id");
        let ids: Vec<String> = self
            .fetch_all(&self.write, q)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        self.issues_by_ids(&ids).await
    }

    /// Resolves an open issue by fingerprint (backpressure that went away).
    pub async fn resolve_issue_by_fingerprint(&self, fingerprint: &str, now: i64) -> StoreResult<bool> {
        let mut q = Query::new("UPDATE issues SET status = 'RESOLVED', resolved_at = ");
        q.bind(now)
            .push(", auto_resolved_at = ")
            .bind(now)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE status IN ('OPENED', 'ACKNOWLEDGED') AND fingerprint = ")
            .bind(fingerprint.to_owned());
        Ok(self.execute(q).await? > 0)
    }

    pub async fn get_issue(&self, id: &str) -> StoreResult<Option<Issue>> {
        self.get_one(ISSUE_COLS, "issues", "id", id, issue).await
    }

    pub async fn list_issues(&self, f: &IssueFilter, page: &PageQuery) -> StoreResult<Page<Issue>> {
        let filters = |q: &mut Query| issue_filters(q, f);
        self.list(ISSUE_COLS, "issues", &filters, page, issue, |i| &i.id)
            .await
    }

    pub async fn count_issues(&self, f: &IssueFilter) -> StoreResult<i64> {
        let mut q = Query::new("SELECT COUNT(*) AS n FROM issues WHERE 1 = 1");
        issue_filters(&mut q, f);
        self.count_rows(q).await
    }

    /// Sets the status by hand; `RESOLVED` records when.
    pub async fn set_issue_status(
        &self,
        id: &str,
        status: IssueStatus,
        now: i64,
    ) -> StoreResult<Option<Issue>> {
        let mut q = Query::new("UPDATE issues SET status = ");
        q.bind(status.as_str()).push(", updated_at = ").bind(now);
        match status {
            IssueStatus::Resolved => {
                q.push(", resolved_at = ").bind(now);
            }
            IssueStatus::Opened => {
                q.push(", resolved_at = NULL, dismissed_at = NULL");
            }
            _ => {}
        }
        q.push(" WHERE id = ").bind(id.to_owned());
        self.execute(q).await?;
        self.get_issue(id).await
    }

    /// Dismisses (Hookdeck's DELETE): hidden until it happens again.
    pub async fn dismiss_issue(&self, id: &str, now: i64) -> StoreResult<Option<Issue>> {
        let mut q = Query::new("UPDATE issues SET dismissed_at = ");
        q.bind(now)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id.to_owned());
        self.execute(q).await?;
        self.get_issue(id).await
    }

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
        let mut tx = self.write.begin().await?;
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

    pub async fn insert_trigger(&self, t: &IssueTrigger) -> StoreResult<()> {
        let mut q = Query::new(&format!(
            "INSERT INTO issue_triggers ({TRIGGER_COLS}) VALUES "
        ));
        trigger_values(&mut q, t)?;
        let (sql, args) = q.build()?;
        sqlx::query_with(&sql, args)
            .execute(&self.write)
            .await
            .map_err(super::sql::conflict_as_typed)?;
        Ok(())
    }

    pub async fn update_trigger(&self, t: &IssueTrigger) -> StoreResult<()> {
        let q = update_all("issue_triggers", TRIGGER_COLS, |q| trigger_values(q, t))?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_trigger(&self, id: &str) -> StoreResult<Option<IssueTrigger>> {
        self.get_one(TRIGGER_COLS, "issue_triggers", "id", id, trigger)
            .await
    }

    pub async fn find_trigger_by_name(&self, name: &str) -> StoreResult<Option<IssueTrigger>> {
        self.get_one(TRIGGER_COLS, "issue_triggers", "name", name, trigger)
            .await
    }

    pub async fn list_triggers(&self) -> StoreResult<Vec<IssueTrigger>> {
        let q = Query::new(&format!(
            "SELECT {TRIGGER_COLS} FROM issue_triggers ORDER BY id"
        ));
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(trigger)
            .collect()
    }

    pub async fn delete_trigger(&self, id: &str) -> StoreResult<bool> {
        let mut q = Query::new("DELETE FROM issue_triggers WHERE id = ");
        q.bind(id.to_owned());
        Ok(self.execute(q).await? > 0)
    }

    /// Open issues whose opening alert has not gone out.
    pub async fn issues_awaiting_alert(&self) -> StoreResult<Vec<Issue>> {
        self.issues_where("status = 'OPENED' AND alerted_at IS NULL AND dismissed_at IS NULL")
            .await
    }

    /// Takes the right to send an issue's opening alert; false if another took it.
    pub async fn claim_issue_alert(&self, id: &str, now: i64) -> StoreResult<bool> {
        let won = self.claim("issues", "alerted_at", id, now, "").await?;
        if won {
            let mut q = Query::new("UPDATE issues SET alerted_count = event_count WHERE id = ");
            q.bind(id.to_owned());
            self.execute(q).await?;
        }
        Ok(won)
    }

    /// Gives the right back after a failed send, so the next round tries again.
    pub async fn release_issue_alert(&self, id: &str) -> StoreResult<()> {
        self.unset("issues", "alerted_at", id).await
    }

    /// Resolved issues whose opening was alerted and whose recovery was not.
    pub async fn issues_awaiting_recovery(&self) -> StoreResult<Vec<Issue>> {
        self.issues_where(
            "status = 'RESOLVED' AND alerted_at IS NOT NULL AND recovery_alerted_at IS NULL",
        )
        .await
    }

    pub async fn claim_recovery_alert(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.claim(
            "issues",
            "recovery_alerted_at",
            id,
            now,
            " AND status = 'RESOLVED'",
        )
        .await
    }

    pub async fn release_recovery_alert(&self, id: &str) -> StoreResult<()> {
        self.unset("issues", "recovery_alerted_at", id).await
    }

    /// Takes the right to send the digest if the last one is `interval_ms` old.
    pub async fn claim_digest(&self, now: i64, interval_ms: i64) -> StoreResult<bool> {
        let mut q = Query::new("UPDATE alert_digest SET sent_at = ");
        q.bind(now)
            .push(" WHERE id = 1 AND sent_at <= ")
            .bind(now - interval_ms);
        Ok(self.execute(q).await? == 1)
    }

    /// Alerted, still-open issues with failures since they were last mentioned,
    /// and last mentioned (opening alert or digest) before `mentioned_before`.
    pub async fn issues_for_digest(&self, mentioned_before: i64) -> StoreResult<Vec<Issue>> {
        let mut q = Query::new(&format!(
            "SELECT {ISSUE_COLS} FROM issues WHERE status IN ('OPENED', 'ACKNOWLEDGED') \
             AND event_count > alerted_count AND dismissed_at IS NULL AND alerted_at <= "
        ));
        q.bind(mentioned_before).push(" ORDER BY id");
        self.fetch_all(&self.write, q)
            .await?
            .iter()
            .map(issue)
            .collect()
    }

    /// Records that a digest mentioned these issues at `now`.
    pub async fn mark_digested(&self, ids: &[String], now: i64) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // `alerted_at` becomes "last mentioned": it stays set, so recovery notes
        // still know the issue was alerted.
        let mut q = Query::new("UPDATE issues SET alerted_count = event_count, alerted_at = ");
        q.bind(now).push(" WHERE id IN ");
        q.bind_list(ids.iter().cloned());
        self.execute(q).await?;
        Ok(())
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

    /// Destinations the gateway disabled whose alert has not gone out.
    pub async fn destinations_awaiting_disable_alert(&self) -> StoreResult<Vec<String>> {
        let q = Query::new(
            "SELECT id FROM destinations WHERE disabled_at IS NOT NULL \
             AND disabled_reason IS NOT NULL AND disable_alerted_at IS NULL ORDER BY id",
        );
        self.fetch_all(&self.write, q)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("id")?))
            .collect()
    }

    pub async fn claim_disable_alert(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.claim(
            "destinations",
            "disable_alerted_at",
            id,
            now,
            " AND disabled_at IS NOT NULL",
        )
        .await
    }

    pub async fn release_disable_alert(&self, id: &str) -> StoreResult<()> {
        self.unset("destinations", "disable_alerted_at", id).await
    }

    /// How many events match (`body_filter` aside, which needs the bodies).
    pub async fn count_events(&self, f: &EventFilter) -> StoreResult<i64> {
        let mut q = Query::new("SELECT COUNT(*) AS n FROM events WHERE 1 = 1");
        event_eq_filters(&mut q, f);
        self.count_rows(q).await
    }

    /// Up to `limit` matching events after `after` (by id, ascending).
    pub async fn events_after(
        &self,
        f: &EventFilter,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let mut q = Query::new(&format!("SELECT {EVENT_COLS} FROM events WHERE 1 = 1"));
        event_eq_filters(&mut q, f);
        if let Some(a) = after {
            q.push(" AND id > ").bind(a.to_owned());
        }
        q.push(" ORDER BY id LIMIT ").bind(limit);
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(rows::event)
            .collect()
    }

    /// Queues these events for an attempt now (trigger `BULK_RETRY`) unless an
    /// attempt is under way, or their transformation failed (a retry would send
    /// the untransformed request; retry the request instead). Returns how many
    /// were queued.
    pub async fn requeue_events(&self, ids: &[String], now: i64) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut q = Query::in_order(self.dialect, "UPDATE events SET status = ");
        q.bind(EventStatus::Queued.as_str())
            .push(", next_attempt_at = ")
            .bind(now)
            .push(", next_trigger = ")
            .bind(AttemptTrigger::BulkRetry.as_str())
            .push(", lease_until = NULL, updated_at = ")
            .bind(now)
            .push(" WHERE (lease_until IS NULL OR lease_until <= ")
            .bind(now)
            .push(") AND (error_code IS NULL OR error_code <> 'TRANSFORMATION_FAILED') AND id IN ")
            .bind_list(ids.iter().cloned());
        self.execute(q).await
    }

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
    pub async fn claim_bulk_step(&self, now: i64, lease_until: i64) -> StoreResult<Option<BulkRetry>> {
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

/// All of an [`EventFilter`]'s SQL terms.
fn event_eq_filters(q: &mut Query, f: &EventFilter) {
    q.and_eq("id", &f.id)
        .and_eq("connection_id", &f.connection_id)
        .and_eq("source_id", &f.source_id)
        .and_eq("destination_id", &f.destination_id)
        .and_eq("request_id", &f.request_id);
    push_event_filters(q, f);
}

fn trigger_values(q: &mut Query, t: &IssueTrigger) -> StoreResult<()> {
    q.values([t], |r, t| {
        r.bind(t.id.clone())
            .bind(t.name.clone())
            .bind(t.issue_type.as_str())
            .bind(to_json(&t.configs)?)
            .bind(to_json(&t.channels)?)
            .bind(t.disabled_at)
            .bind(t.created_at)
            .bind(t.updated_at);
        Ok(())
    })?;
    Ok(())
}
