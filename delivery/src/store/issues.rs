//! Issues: failures grouped by fingerprint, opened, resolved and dismissed.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::query::Query;
use super::{Page, PageQuery, Store, StoreError, StoreResult};
use crate::model::{Failure, Issue, IssueFilter, IssueStatus, IssueType};

pub(super) const ISSUE_COLS: &str =
    "id, type, fingerprint, status, connection_id, destination_id, source_id, \
     response_status, error_code, event_count, opened_count, final_count, reference_event_id, \
     reference_attempt_id, opened_at, first_seen_at, last_seen_at, dismissed_at, \
     auto_resolved_at, resolved_at, alerted_at, alerted_count, recovery_alerted_at, \
     created_at, updated_at";

pub(super) fn issue(row: &AnyRow) -> StoreResult<Issue> {
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
        source_id: row.try_get("source_id")?,
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

fn issue_filters(q: &mut Query, f: &IssueFilter) {
    q.and_in("id", &f.ids)
        .and_eq("connection_id", &f.connection_id)
        .and_eq("destination_id", &f.destination_id)
        .and_eq("source_id", &f.source_id)
        .and_bounds("created_at", &f.created_at)
        .and_bounds("first_seen_at", &f.first_seen_at)
        .and_bounds("last_seen_at", &f.last_seen_at)
        .and_bounds("dismissed_at", &f.dismissed_at);
    if !f.types.is_empty() {
        q.push(" AND type IN ")
            .bind_list(f.types.iter().map(|t| t.as_str()));
    }
    if !f.statuses.is_empty() {
        q.push(" AND status IN ")
            .bind_list(f.statuses.iter().map(|s| s.as_str()));
    }
}

impl Store {
    pub(super) async fn issues_where(&self, cond: &str) -> StoreResult<Vec<Issue>> {
        let q = Query::new(&format!(
            "SELECT {ISSUE_COLS} FROM issues WHERE {cond} ORDER BY id"
        ));
        self.fetch_all(&self.write, q)
            .await?
            .iter()
            .map(issue)
            .collect()
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
        let mut tx = self.begin_write().await?;
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
                    .bind(f.source_id.clone())
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
        self.resolve_open(
            &|q: &mut Query| {
                q.push(" AND type IN ('delivery', 'transformation') AND connection_id IN ")
                    .bind_list(connection_ids.iter().cloned());
            },
            now,
        )
        .await
    }

    /// Resolves the open `source` issues of a broker source, whatever their
    /// error (it is consumed again). Returns the issues resolved, so the caller
    /// knows whether to wake the notifier for their recovery alerts.
    pub async fn resolve_source_issues(
        &self,
        source_id: &str,
        now: i64,
    ) -> StoreResult<Vec<Issue>> {
        self.resolve_open(
            &|q: &mut Query| {
                q.push(" AND type = 'source' AND source_id = ")
                    .bind(source_id.to_owned());
            },
            now,
        )
        .await
    }

    /// Resolves the open issues `term` (` AND …`) selects. Called after every
    /// batch of results and every broker (re)connect: it looks on a reader
    /// first, so the (single, on SQLite) writer only works when there is
    /// something to resolve.
    async fn resolve_open(
        &self,
        term: &(dyn Fn(&mut Query) + Sync),
        now: i64,
    ) -> StoreResult<Vec<Issue>> {
        const OPEN: &str = " WHERE status IN ('OPENED', 'ACKNOWLEDGED')";
        let mut q = Query::new(&format!("SELECT COUNT(*) AS n FROM issues{OPEN}"));
        term(&mut q);
        if self.count_rows(q).await? == 0 {
            return Ok(Vec::new());
        }
        let mut q = Query::new("UPDATE issues SET status = 'RESOLVED', resolved_at = ");
        q.bind(now)
            .push(", auto_resolved_at = ")
            .bind(now)
            .push(", updated_at = ")
            .bind(now)
            .push(OPEN);
        term(&mut q);
        q.push(" RETURNING id");
        let ids: Vec<String> = self
            .fetch_all(&self.write, q)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        self.issues_by_ids(&ids).await
    }

    /// Resolves an open issue by fingerprint (backpressure that went away).
    pub async fn resolve_issue_by_fingerprint(
        &self,
        fingerprint: &str,
        now: i64,
    ) -> StoreResult<bool> {
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
                // Opened again by hand after it ended: alerted afresh, as when a
                // failure opens it again (and its incident, closed when it
                // ended, opens again). The CASE reads the row before the update.
                let ended = "(status IN ('RESOLVED', 'IGNORED') OR dismissed_at IS NOT NULL)";
                q.push(&format!(
                    ", alerted_at = CASE WHEN {ended} THEN NULL ELSE alerted_at END, \
                     alerted_count = CASE WHEN {ended} THEN 0 ELSE alerted_count END, \
                     recovery_alerted_at = CASE WHEN {ended} THEN NULL ELSE recovery_alerted_at END, \
                     resolved_at = NULL, dismissed_at = NULL"
                ));
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
}
