//! What routing made of requests: their events and ignored events, and the
//! failed transformations, transformed requests and executions that came with them.

use std::collections::{BTreeSet, HashMap};

use sqlx::Row;

use super::sql::dialect::Dialect;
use super::sql::query::{Query, INSERT_CHUNK};
use super::sql::rows::{self, CONNECTION_COLS, IGNORED_COLS, REQUEST_COLS};
use super::sql::text::{opt_json, to_json};
use super::transformations::push_executions;
use super::{Store, StoreResult};
use crate::model::{
    AttemptTrigger, Connection, Event, EventStatus, Execution, IgnoredEvent, NewEvent, NewRequest,
    PreparedRoute, RequestRecord, RouteResult,
};

/// An event to insert with the request it belongs to.
pub(super) struct EventRow<'a> {
    request_id: &'a str,
    source_id: &'a str,
    event: &'a NewEvent,
}

/// The event and ignored-event rows of routed requests, given as
/// `(request id, source id, routing result)`.
pub(super) fn route_rows<'a>(
    routed: impl Iterator<Item = (&'a str, &'a str, &'a RouteResult)>,
) -> (Vec<EventRow<'a>>, Vec<&'a IgnoredEvent>) {
    let mut events = Vec::new();
    let mut ignored = Vec::new();
    for (request_id, source_id, r) in routed {
        events.extend(r.events.iter().map(|event| EventRow {
            request_id,
            source_id,
            event,
        }));
        ignored.extend(&r.ignored);
    }
    (events, ignored)
}

/// `(request id, source id, routing result)` of the requests that came routed.
pub(super) fn routed_requests<'a>(
    reqs: impl Iterator<Item = &'a NewRequest>,
) -> impl Iterator<Item = (&'a str, &'a str, &'a RouteResult)> {
    reqs.filter_map(|r| {
        r.route
            .as_ref()
            .map(|route| (r.envelope.id.as_str(), r.source_id.as_str(), route))
    })
}

/// Appends `INSERT INTO events … ` for `rows`, keeping only rows whose connection
/// still exists: ingest routes with connections cached for a second, and an event
/// for a connection deleted meanwhile could never be delivered or failed. With
/// `only_new_requests`, rows whose request is already stored are left out too
/// (`NOT EXISTS`, for a script that runs it before inserting the requests; see
/// [`Store::insert_requests_sqlite`]).
pub(super) fn push_events_insert(
    q: &mut Query,
    rows: &[EventRow<'_>],
    now: i64,
    only_new_requests: bool,
) -> StoreResult<()> {
    let leasing = rows.iter().any(|r| r.event.lease_until.is_some());
    q.push(
        "INSERT INTO events (id, request_id, connection_id, source_id, destination_id, \
         status, attempts, next_attempt_at, next_trigger, created_at, updated_at",
    );
    if leasing {
        // The lease asked for is granted on the lease query's own terms (see
        // `Store::lease_query`): active connection and destination, no limit,
        // not a CLI destination. Anything else is left for the dispatcher.
        q.push(
            ", lease_until) SELECT v.column1, v.column2, v.column3, v.column4, v.column5, \
             v.column6, v.column7, v.column8, v.column9, v.column10, v.column11, \
             CASE WHEN v.column12 IS NOT NULL AND EXISTS (SELECT 1 FROM connections c \
             JOIN destinations d ON d.id = c.destination_id WHERE c.id = v.column3 \
             AND c.paused_at IS NULL AND c.disabled_at IS NULL AND d.disabled_at IS NULL \
             AND d.rate_limit IS NULL AND d.max_concurrency IS NULL AND d.type <> 'CLI') \
             THEN v.column12 END FROM (VALUES ",
        );
    } else {
        q.push(") SELECT * FROM (VALUES ");
    }
    q.values(rows, |r, row| {
        let e = row.event;
        r.bind(e.id.clone())
            .bind(row.request_id.to_owned())
            .bind(e.connection_id.clone())
            .bind(row.source_id.to_owned())
            .bind(e.destination_id.clone())
            .bind(e.status.as_str())
            .sql("0")
            .bind(e.next_attempt_at)
            .bind(AttemptTrigger::Initial.as_str())
            .bind(now)
            .bind(now);
        if leasing {
            r.bind(e.lease_until);
        }
        Ok(())
    })?;
    q.push(") AS v WHERE EXISTS (SELECT 1 FROM connections c WHERE c.id = v.column3)");
    if only_new_requests {
        q.push(" AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = v.column2)");
    }
    if leasing {
        q.push(&format!(" RETURNING id AS {LEASED_EVENT}, lease_until"));
    }
    Ok(())
}

/// The column an events insert that asked for leases returns each event's id
/// in (a script's rows mix it with the requests' `id`).
pub(super) const LEASED_EVENT: &str = "leased_event_id";

/// The ids of the events that `rows` (of an events insert asking for leases)
/// say were leased; rows of other statements are skipped.
pub(super) fn leased_events(rows: &[sqlx::any::AnyRow]) -> StoreResult<Vec<String>> {
    let mut leased = Vec::new();
    for row in rows {
        let Ok(id) = row.try_get::<String, _>(LEASED_EVENT) else {
            continue;
        };
        if row.try_get::<Option<i64>, _>("lease_until")?.is_some() {
            leased.push(id);
        }
    }
    Ok(leased)
}

/// Appends `INSERT INTO ignored_events …` for `rows`; `only_new_requests` as for
/// [`push_events_insert`].
pub(super) fn push_ignored_insert(
    q: &mut Query,
    rows: &[&IgnoredEvent],
    only_new_requests: bool,
) -> StoreResult<()> {
    q.push(&format!("INSERT INTO ignored_events ({IGNORED_COLS}) "));
    q.push(if only_new_requests {
        "SELECT * FROM (VALUES "
    } else {
        "VALUES "
    });
    q.values(rows, |r, ig| {
        r.bind(ig.id.clone())
            .bind(ig.request_id.clone())
            .bind(ig.connection_id.clone())
            .bind(ig.cause.clone())
            .bind(opt_json(&ig.meta)?)
            .bind(ig.created_at);
        Ok(())
    })?;
    if only_new_requests {
        q.push(NEW_REQUESTS_ONLY);
    }
    Ok(())
}

/// Closes the `SELECT * FROM (VALUES …` of an insert whose second column is the
/// request id, keeping the rows of requests not stored yet.
const NEW_REQUESTS_ONLY: &str =
    ") AS v WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = v.column2)";

impl Store {
    /// Inserts events of any number of requests, a few hundred rows a statement.
    /// Returns the ids of those that were leased (see [`NewEvent::lease_until`]).
    pub(super) async fn insert_events_tx(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        rows: &[EventRow<'_>],
        now: i64,
    ) -> StoreResult<Vec<String>> {
        let mut leased = Vec::new();
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut q = Query::in_order(dialect, "");
            push_events_insert(&mut q, chunk, now, false)?;
            let (sql, args) = q.build()?;
            if chunk.iter().any(|r| r.event.lease_until.is_some()) {
                let rows = sqlx::query_with(&sql, args).fetch_all(&mut **tx).await?;
                leased.extend(leased_events(&rows)?);
            } else {
                sqlx::query_with(&sql, args).execute(&mut **tx).await?;
            }
        }
        Ok(leased)
    }

    pub(super) async fn insert_ignored_tx(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        rows: &[&IgnoredEvent],
    ) -> StoreResult<()> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut q = Query::in_order(dialect, "");
            push_ignored_insert(&mut q, chunk, false)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Stores what routing decided for each request: events, ignored events, and the
    /// request marked routed. Requests with the same outcome counts share one
    /// UPDATE, so a batch costs a handful of statements, not one per request.
    async fn store_routes_tx(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        routed: &[(&str, &str, &RouteResult)],
        now: i64,
    ) -> StoreResult<usize> {
        let (events, ignored) = route_rows(routed.iter().copied());
        Self::insert_events_tx(dialect, tx, &events, now).await?;
        Self::insert_ignored_tx(dialect, tx, &ignored).await?;

        let mut groups: HashMap<(usize, usize, Option<&'static str>), Vec<String>> = HashMap::new();
        for (request_id, _, r) in routed {
            let key = (
                r.events.len(),
                r.ignored.len(),
                r.rejection.map(|c| c.as_str()),
            );
            groups
                .entry(key)
                .or_default()
                .push((*request_id).to_owned());
        }
        for ((events_count, ignored_count, rejection), ids) in groups {
            for chunk in ids.chunks(INSERT_CHUNK * 2) {
                let mut q =
                    Query::in_order(dialect, "UPDATE requests SET routed = 1, events_count = ");
                q.bind(events_count as i64)
                    .push(", ignored_count = ")
                    .bind(ignored_count as i64)
                    .push(", rejection_cause = COALESCE(rejection_cause, ")
                    .bind(rejection)
                    .push("), updated_at = ")
                    .bind(now)
                    .push(" WHERE id IN ")
                    .bind_list(chunk.iter().cloned());
                let (sql, args) = q.build()?;
                sqlx::query_with(&sql, args).execute(&mut **tx).await?;
            }
        }
        Ok(events.len())
    }
}

impl Store {
    /// Up to `limit` unrouted requests (with bodies), oldest first, and the
    /// connections of their sources. Reads only: nothing is locked.
    pub async fn unrouted_requests(
        &self,
        limit: i64,
    ) -> StoreResult<(Vec<RequestRecord>, HashMap<String, Vec<Connection>>)> {
        let mut q = Query::new(&format!(
            "SELECT {REQUEST_COLS}, body FROM requests WHERE routed = 0 ORDER BY id LIMIT "
        ));
        q.bind(limit);
        let pending = self
            .fetch_all(&self.write, q)
            .await?
            .iter()
            .map(|r| rows::request(r, true))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut by_source: HashMap<String, Vec<Connection>> = HashMap::new();
        if pending.is_empty() {
            return Ok((pending, by_source));
        }
        let source_ids: BTreeSet<&str> = pending.iter().map(|r| r.source_id.as_str()).collect();
        let mut q = Query::new(&format!(
            "SELECT {CONNECTION_COLS} FROM connections WHERE source_id IN "
        ));
        q.bind_list(source_ids.iter().map(|s| s.to_string()));
        q.push(" ORDER BY id");
        for row in self.fetch_all(&self.write, q).await? {
            let c = rows::connection(&row)?;
            by_source.entry(c.source_id.clone()).or_default().push(c);
        }
        Ok((pending, by_source))
    }

    /// Stores prepared routes in one transaction: for each request still
    /// unrouted (another replica may have routed it meanwhile), its events,
    /// ignored events, failed events, event data and executions. Returns how many
    /// requests were routed and events created.
    pub async fn store_prepared_routes(
        &self,
        routes: &[PreparedRoute],
        now: i64,
    ) -> StoreResult<(usize, usize)> {
        if routes.is_empty() {
            return Ok((0, 0));
        }
        let mut tx = self.begin_write().await?;
        // Only requests nobody routed meanwhile (locked so a replica routing the
        // same ones waits, then finds them routed).
        let mut q = Query::new("SELECT id FROM requests r WHERE routed = 0 AND id IN ");
        q.bind_list(routes.iter().map(|r| r.request_id.clone()));
        q.push(&self.dialect.skip_locked("r"));
        let (sql, args) = q.build()?;
        let still: std::collections::HashSet<String> = sqlx::query_with(&sql, args)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        let mine: Vec<&PreparedRoute> = routes
            .iter()
            .filter(|r| still.contains(&r.request_id))
            .collect();
        if mine.is_empty() {
            tx.rollback().await?;
            return Ok((0, 0));
        }
        let routed: Vec<(&str, &str, &RouteResult)> = mine
            .iter()
            .map(|r| (r.request_id.as_str(), r.source_id.as_str(), &r.route))
            .collect();
        let events = Self::store_routes_tx(self.dialect, &mut tx, &routed, now).await?;

        Self::write_route_extras_tx(&mut tx, &mine).await?;
        tx.commit().await?;
        Ok((mine.len(), events))
    }

    /// Adds the events of `route` to an already routed request (a manual request
    /// retry), with their transformed requests, failed transformations and
    /// executions, in one transaction.
    pub async fn add_events(&self, route: &PreparedRoute, now: i64) -> StoreResult<Vec<Event>> {
        self.add_events_of(route, None, now).await
    }

    /// [`Self::add_events`] for a bulk retry: the events carry its id, set in
    /// the same transaction so that their first attempt cannot miss it.
    pub async fn add_events_of(
        &self,
        route: &PreparedRoute,
        bulk_retry_id: Option<&str>,
        now: i64,
    ) -> StoreResult<Vec<Event>> {
        let events = &route.route.events;
        let mut tx = self.begin_write().await?;
        let rows: Vec<EventRow<'_>> = events
            .iter()
            .map(|event| EventRow {
                request_id: &route.request_id,
                source_id: &route.source_id,
                event,
            })
            .collect();
        Self::insert_events_tx(self.dialect, &mut tx, &rows, now).await?;
        if let (Some(bulk), false) = (bulk_retry_id, events.is_empty()) {
            let mut q = Query::new("UPDATE events SET bulk_retry_id = ");
            q.bind(bulk.to_owned())
                .push(" WHERE id IN ")
                .bind_list(events.iter().map(|e| e.id.clone()));
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        Self::write_route_extras_tx(&mut tx, &[route]).await?;
        let mut q = Query::new("UPDATE requests SET events_count = events_count + ");
        q.bind(events.len() as i64)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(route.request_id.clone());
        let (sql, args) = q.build()?;
        sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        tx.commit().await?;
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        self.events_by_ids(&ids).await
    }

    /// Writes what routing made besides events: the events whose transformation
    /// failed (FAILED, `TRANSFORMATION_FAILED`), the transformed request each
    /// event delivers, and the executions.
    pub(crate) async fn write_route_extras_tx(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        mine: &[&PreparedRoute],
    ) -> StoreResult<()> {
        let failed: Vec<String> = mine.iter().flat_map(|r| r.failed_events.clone()).collect();
        for chunk in failed.chunks(INSERT_CHUNK) {
            let mut q = Query::new("UPDATE events SET status = ");
            q.bind(EventStatus::Failed.as_str())
                .push(", error_code = 'TRANSFORMATION_FAILED', next_attempt_at = NULL WHERE id IN ")
                .bind_list(chunk.iter().cloned());
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        let data: Vec<(String, String)> = mine
            .iter()
            .flat_map(|r| r.event_data.iter())
            .map(|(id, req)| Ok((id.clone(), to_json(req)?)))
            .collect::<StoreResult<_>>()?;
        for chunk in data.chunks(INSERT_CHUNK) {
            let mut q = Query::new("INSERT INTO event_data (event_id, request) VALUES ");
            q.values(chunk, |r, (id, req)| {
                r.bind(id.clone()).bind(req.clone());
                Ok(())
            })?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        let executions: Vec<&Execution> = mine.iter().flat_map(|r| &r.executions).collect();
        for chunk in executions.chunks(INSERT_CHUNK) {
            let mut q = Query::new("");
            push_executions(&mut q, chunk)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// The event `e` of `req` as [`Store::store_requests`] stores it at `now`, for
/// one who would otherwise read it back.
pub fn event_as_stored(req: &NewRequest, e: &NewEvent, now: i64) -> Event {
    Event {
        id: e.id.clone(),
        request_id: req.envelope.id.clone(),
        connection_id: e.connection_id.clone(),
        source_id: req.source_id.clone(),
        destination_id: e.destination_id.clone(),
        status: e.status,
        attempts: 0,
        next_attempt_at: Some(e.next_attempt_at),
        next_trigger: AttemptTrigger::Initial,
        last_attempt_at: None,
        response_status: None,
        error_code: None,
        successful_at: None,
        issue_id: None,
        muted_at: None,
        bulk_retry_id: None,
        created_at: now,
        updated_at: now,
    }
}
