//! Requests as received (stored idempotently, with their routing when it came
//! along) and the events routing ignored.

use std::collections::HashSet;

use sqlx::Row;

use super::attempts::push_record;
use super::routing::{
    leased_events, push_events_insert, push_ignored_insert, route_rows, routed_requests,
    LEASED_EVENT,
};
use super::sql::dialect::Dialect;
use super::sql::query::{Query, INSERT_CHUNK};
use super::sql::rows::{self, IGNORED_COLS, REQUEST_COLS};
use super::sql::scripts::Durability;
use super::sql::text::{storable_text, to_json};
use super::topics::{push_topics_upsert, topic_rows};
use super::{AttemptOutcome, Page, PageQuery, RequestFilter, Store, StoreResult};
use crate::model::{IgnoredEvent, NewRequest, RequestRecord};

/// Appends the `INSERT INTO requests …` of `chunk`, skipping ids already stored and
/// returning the ids that were new.
fn push_requests_insert(q: &mut Query, chunk: &[NewRequest], now: i64) -> StoreResult<()> {
    q.push(
        "INSERT INTO requests (id, source_id, method, path, query, headers, body, \
         body_size, verified, rejection_cause, routed, events_count, ignored_count, \
         received_at, created_at, updated_at, topic, dedup_key) VALUES ",
    );
    q.values(chunk, |row, r| {
        let e = &r.envelope;
        let route = r.route.as_ref();
        // A rejected request is stored to be seen, never routed; one that comes
        // with its routing is stored routed.
        let routed = r.rejection_cause.is_some() || route.is_some();
        let rejection = r.rejection_cause.or(route.and_then(|x| x.rejection));
        row.bind(e.id.clone())
            .bind(r.source_id.clone())
            .bind(storable_text(&e.method))
            .bind(storable_text(&e.path))
            .bind(storable_text(&e.query))
            .bind(to_json(&e.headers)?)
            .bind(e.body.clone())
            .bind(e.body.len() as i64)
            .bind(r.verified.map(i64::from))
            .bind(rejection.map(|c| c.as_str()))
            .bind(i64::from(routed))
            .bind(route.map_or(0, |x| x.events.len() as i64))
            .bind(route.map_or(0, |x| x.ignored.len() as i64))
            .bind(e.received_at_ms)
            .bind(now)
            .bind(now)
            .bind(r.topic.as_deref().map(storable_text))
            .bind(r.dedup_key.as_deref().map(storable_text));
        Ok(())
    })?;
    // No conflict target: a stored id (a redelivery from the edge) and a stored
    // `(source_id, dedup_key)` are both skipped.
    q.push(" ON CONFLICT DO NOTHING RETURNING id");
    Ok(())
}

/// The `AND …` terms of a [`RequestFilter`].
pub(super) fn request_filters(q: &mut Query, f: &RequestFilter) {
    q.and_in("id", &f.ids)
        .and_in("source_id", &f.source_ids)
        .and_set("rejection_cause", f.rejected)
        .and_in("rejection_cause", &f.rejection_causes)
        .and_bounds("events_count", &f.events_count)
        .and_bounds("ignored_count", &f.ignored_count)
        .and_bounds("received_at", &f.ingested_at)
        .and_in("topic", &f.topics);
    match f.verified {
        Some(true) => {
            q.push(" AND verified = 1");
        }
        Some(false) => {
            q.push(" AND (verified IS NULL OR verified = 0)");
        }
        None => {}
    }
}

impl Store {
    /// [`Store::insert_requests`] on SQLite: the whole transaction as one
    /// [`Self::sqlite_script`]. Events and ignored events go first, each row kept
    /// only while its request is not stored yet, and the requests after them: in
    /// the one writer's transaction that is exactly "the requests this insert makes
    /// new", which the other backend learns from the `RETURNING` of the requests'
    /// insert, a round trip earlier.
    async fn insert_requests_sqlite(
        &self,
        reqs: &[NewRequest],
        outcomes: &[AttemptOutcome],
        now: i64,
    ) -> StoreResult<StoredRequests> {
        let (events, ignored) = route_rows(routed_requests(reqs.iter()));
        let mut q = Query::in_order(self.dialect, "BEGIN IMMEDIATE; ");
        // Attempt results return no rows: what the script returns stays the
        // requests' and events' own.
        push_record(&mut q, outcomes, now)?;
        for chunk in events.chunks(INSERT_CHUNK) {
            push_events_insert(&mut q, chunk, now, true)?;
            q.push("; ");
        }
        for chunk in ignored.chunks(INSERT_CHUNK) {
            push_ignored_insert(&mut q, chunk, true)?;
            q.push("; ");
        }
        let topics = topic_rows(reqs.iter());
        for chunk in topics.chunks(INSERT_CHUNK) {
            push_topics_upsert(&mut q, chunk, true)?;
            q.push("; ");
        }
        for chunk in reqs.chunks(INSERT_CHUNK) {
            push_requests_insert(&mut q, chunk, now)?;
            q.push("; ");
        }
        q.push("COMMIT");
        let rows = self.sqlite_script(q, Durability::Acknowledged).await?;
        let new_ids = rows
            .iter()
            .filter(|row| row.try_get::<String, _>(LEASED_EVENT).is_err())
            .map(|row| Ok(row.try_get::<String, _>("id")?))
            .collect::<StoreResult<_>>()?;
        Ok(StoredRequests {
            new_ids,
            leased_events: leased_events(&rows)?,
        })
    }
}

/// What [`Store::store_requests`] did.
#[derive(Debug, Default)]
pub struct StoredRequests {
    /// The requests that were new (a redelivered id is skipped).
    pub new_ids: Vec<String>,
    /// The events stored leased, as their [`NewEvent::lease_until`] asked.
    ///
    /// [`NewEvent::lease_until`]: crate::model::NewEvent::lease_until
    pub leased_events: Vec<String>,
}

impl Store {
    /// Stores requests in one transaction, idempotent on the envelope id. Returns
    /// the ids that were new (a redelivered id is skipped, not an error).
    pub async fn insert_requests(&self, reqs: &[NewRequest], now: i64) -> StoreResult<Vec<String>> {
        Ok(self.store_requests(reqs, now).await?.new_ids)
    }

    /// [`Store::insert_requests`], also saying which events were stored leased
    /// (those whose `lease_until` asked for it and whose connection and
    /// destination let them go now).
    pub async fn store_requests(
        &self,
        reqs: &[NewRequest],
        now: i64,
    ) -> StoreResult<StoredRequests> {
        self.store_requests_and_record(reqs, &[], now).await
    }

    /// [`Store::store_requests`] and [`Store::record_attempts`] in one
    /// transaction: ingest's commit takes the attempt results waiting, so the
    /// one writer runs one transaction (and one fsync) where it ran two. If
    /// either part fails, neither is stored.
    pub async fn store_requests_and_record(
        &self,
        reqs: &[NewRequest],
        outcomes: &[AttemptOutcome],
        now: i64,
    ) -> StoreResult<StoredRequests> {
        // The same id twice in one batch (an edge redelivery racing the original)
        // would pass the "request not stored yet" checks twice and double its
        // events: keep the first.
        let mut seen = HashSet::with_capacity(reqs.len());
        if !reqs.iter().all(|r| seen.insert(r.envelope.id.as_str())) {
            let mut seen = HashSet::new();
            let unique: Vec<NewRequest> = reqs
                .iter()
                .filter(|r| seen.insert(r.envelope.id.as_str()))
                .cloned()
                .collect();
            return self.insert_unique_requests(&unique, outcomes, now).await;
        }
        self.insert_unique_requests(reqs, outcomes, now).await
    }

    /// [`Store::insert_requests`] of requests whose ids are all different.
    async fn insert_unique_requests(
        &self,
        reqs: &[NewRequest],
        outcomes: &[AttemptOutcome],
        now: i64,
    ) -> StoreResult<StoredRequests> {
        if self.dialect == Dialect::Sqlite {
            return self.insert_requests_sqlite(reqs, outcomes, now).await;
        }
        let mut inserted = Vec::with_capacity(reqs.len());
        let mut tx = self.begin_write().await?;
        Self::record_attempts_tx(self.dialect, &mut tx, outcomes, now).await?;
        for chunk in reqs.chunks(INSERT_CHUNK) {
            let mut q = Query::in_order(self.dialect, "");
            push_requests_insert(&mut q, chunk, now)?;
            let (sql, args) = q.build()?;
            for row in sqlx::query_with(&sql, args).fetch_all(&mut *tx).await? {
                inserted.push(row.try_get::<String, _>("id")?);
            }
        }
        // Events only for requests that were new: a redelivered request must not
        // create its events twice.
        let new_ids: std::collections::HashSet<&str> =
            inserted.iter().map(String::as_str).collect();
        let (events, ignored) = route_rows(routed_requests(
            reqs.iter()
                .filter(|r| new_ids.contains(r.envelope.id.as_str())),
        ));
        let leased_events = Self::insert_events_tx(self.dialect, &mut tx, &events, now).await?;
        Self::insert_ignored_tx(self.dialect, &mut tx, &ignored).await?;
        let topics = topic_rows(
            reqs.iter()
                .filter(|r| new_ids.contains(r.envelope.id.as_str())),
        );
        for chunk in topics.chunks(INSERT_CHUNK) {
            let mut q = Query::in_order(self.dialect, "");
            push_topics_upsert(&mut q, chunk, false)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(StoredRequests {
            new_ids: inserted,
            leased_events,
        })
    }

    pub async fn get_request(
        &self,
        id: &str,
        with_body: bool,
    ) -> StoreResult<Option<RequestRecord>> {
        let cols = if with_body {
            format!("{REQUEST_COLS}, body")
        } else {
            REQUEST_COLS.to_owned()
        };
        let mut q = Query::new(&format!("SELECT {cols} FROM requests WHERE id = "));
        q.bind(id.to_owned());
        self.fetch_optional(&self.read, q)
            .await?
            .map(|r| rows::request(&r, with_body))
            .transpose()
    }

    /// A page of requests; with their bodies when `with_body` (content filters and
    /// `include=data` read them).
    pub async fn list_requests(
        &self,
        f: &RequestFilter,
        page: &PageQuery,
        with_body: bool,
    ) -> StoreResult<Page<RequestRecord>> {
        let filters = |q: &mut Query| request_filters(q, f);
        let (cols, map): (String, fn(&sqlx::any::AnyRow) -> StoreResult<RequestRecord>) =
            if with_body {
                (format!("{REQUEST_COLS}, body"), |r| rows::request(r, true))
            } else {
                (REQUEST_COLS.to_owned(), |r| rows::request(r, false))
            };
        self.list(&cols, "requests", &filters, page, map, |r| &r.id)
            .await
    }

    /// These requests with their bodies, by id (those that exist).
    pub async fn requests_by_ids(
        &self,
        ids: &[String],
    ) -> StoreResult<std::collections::HashMap<String, RequestRecord>> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut q = Query::new(&format!(
                "SELECT {REQUEST_COLS}, body FROM requests WHERE id IN "
            ));
            q.bind_list(chunk.iter().cloned());
            for row in self.fetch_all(&self.read, q).await? {
                let r = rows::request(&row, true)?;
                out.insert(r.id.clone(), r);
            }
        }
        Ok(out)
    }

    /// The requests already stored under these `(source id, dedup key)`s, as
    /// `(source id, dedup key) → request id`.
    pub async fn requests_by_dedup_key(
        &self,
        keys: &[(String, String)],
    ) -> StoreResult<std::collections::HashMap<(String, String), String>> {
        let mut by_source: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (source, key) in keys {
            by_source
                .entry(source.as_str())
                .or_default()
                .push(storable_text(key));
        }
        let mut out = std::collections::HashMap::with_capacity(keys.len());
        for (source, keys) in by_source {
            for chunk in keys.chunks(INSERT_CHUNK) {
                let mut q = Query::new("SELECT id, dedup_key FROM requests WHERE source_id = ");
                q.bind(source.to_owned()).push(" AND dedup_key IN ");
                q.bind_list(chunk.iter().cloned());
                for row in self.fetch_all(&self.write, q).await? {
                    out.insert(
                        (source.to_owned(), row.try_get("dedup_key")?),
                        row.try_get("id")?,
                    );
                }
            }
        }
        Ok(out)
    }

    pub async fn ignored_events_of_request(
        &self,
        request_id: &str,
    ) -> StoreResult<Vec<IgnoredEvent>> {
        let mut q = Query::new(&format!(
            "SELECT {IGNORED_COLS} FROM ignored_events WHERE request_id = "
        ));
        q.bind(request_id.to_owned()).push(" ORDER BY id");
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(rows::ignored)
            .collect()
    }
}

/// The request as [`Store::store_requests`] stores it (with its body), for one
/// who would otherwise read it back.
pub fn request_as_stored(req: &NewRequest, now: i64) -> RequestRecord {
    let e = &req.envelope;
    let route = req.route.as_ref();
    RequestRecord {
        id: e.id.clone(),
        source_id: req.source_id.clone(),
        method: storable_text(&e.method),
        path: storable_text(&e.path),
        query: storable_text(&e.query),
        headers: e.headers.clone(),
        body: Some(e.body.clone()),
        body_size: e.body.len() as i64,
        verified: req.verified,
        rejection_cause: req.rejection_cause.or(route.and_then(|r| r.rejection)),
        topic: req.topic.as_deref().map(storable_text),
        events_count: route.map_or(0, |r| r.events.len() as i64),
        ignored_count: route.map_or(0, |r| r.ignored.len() as i64),
        routed: true,
        received_at: e.received_at_ms,
        created_at: now,
        updated_at: now,
    }
}
