//! Alert claims: who sends an issue's opening, recovery and digest alerts, and a
//! disabled destination's.
//!
//! Every "claim" method is a conditional UPDATE that only one replica can win, so
//! an alert or a bulk-retry step happens once however many replicas run.

use sqlx::Row;

use super::issues::{issue, ISSUE_COLS};
use super::sql::query::Query;
use super::{Store, StoreResult};
use crate::model::Issue;

impl Store {
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
}

/// An issue that no longer needs attention: resolved, ignored or dismissed.
const ENDED: &str = "(status IN ('RESOLVED', 'IGNORED') OR dismissed_at IS NOT NULL)";

impl Store {
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

    /// Issues that ended (resolved, or dismissed or ignored by hand) whose
    /// opening was alerted and whose end was not: a recovery note for resolved
    /// ones, and for all of them the resolution of their incident.
    pub async fn issues_awaiting_recovery(&self) -> StoreResult<Vec<Issue>> {
        self.issues_where(&format!(
            "{ENDED} AND alerted_at IS NOT NULL AND recovery_alerted_at IS NULL"
        ))
        .await
    }

    /// Takes the right to send an ended issue's recovery note and incident
    /// resolution; false if another took it.
    pub async fn claim_recovery_alert(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.claim(
            "issues",
            "recovery_alerted_at",
            id,
            now,
            &format!(" AND {ENDED}"),
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
}
