//! [`Store`] over sqlx's `Any` driver: the same SQL for SQLite and PostgreSQL.
//!
//! SQLite gets one writer connection (SQLite serialises writers anyway; one
//! connection avoids `SQLITE_BUSY` retries) and a pool of readers, which WAL lets
//! run beside the writer. PostgreSQL uses one pool for both.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

use super::query::Query;
use super::rows::{self, *};
use super::*;
use crate::model::{AttemptTrigger, EventStatus, PreparedRoute, RouteResult};

mod transformations;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per multi-row `INSERT`: well under both backends' bound-parameter limits.
const INSERT_CHUNK: usize = 200;

/// An event to insert with the request it belongs to.
struct EventRow<'a> {
    request_id: &'a str,
    source_id: &'a str,
    event: &'a NewEvent,
}

/// The event and ignored-event rows of routed requests, given as
/// `(request id, source id, routing result)`.
fn route_rows<'a>(
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
fn routed_requests<'a>(
    reqs: impl Iterator<Item = &'a NewRequest>,
) -> impl Iterator<Item = (&'a str, &'a str, &'a RouteResult)> {
    reqs.filter_map(|r| {
        r.route
            .as_ref()
            .map(|route| (r.envelope.id.as_str(), r.source_id.as_str(), route))
    })
}


#[derive(Clone)]
pub struct Store {
    pub(super) write: AnyPool,
    pub(super) read: AnyPool,
    pub(super) dialect: Dialect,
    sqlite_sync: SqliteSync,
}

fn to_sqlx_sqlite_url(url: &str) -> String {
    // Create the file when missing, as a fresh `hookyard serve` expects.
    if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    }
}

impl Store {
    /// Connects and migrates. `sqlite://PATH` or `postgres://…`.
    pub async fn connect(url: &str, sqlite_sync: SqliteSync) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let dialect =
            Dialect::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
        let store = match dialect {
            Dialect::Sqlite => {
                let url = to_sqlx_sqlite_url(url);
                let sync = sqlite_pragma(sqlite_sync);
                let opts = move || {
                    AnyPoolOptions::new().after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute(sync).await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            // As PostgreSQL does: no connection to a missing source.
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            Ok(())
                        })
                    })
                };
                let write = opts().max_connections(1).connect(&url).await?;
                // Migrate before the readers open, so they see the schema.
                SQLITE_MIGRATIONS.run(&write).await?;
                // One process owns a SQLite database, so any lease found at start
                // belongs to a previous run that died mid-delivery: release it so
                // those events go out now, not when the lease would have expired.
                sqlx::query("UPDATE events SET lease_until = NULL WHERE lease_until IS NOT NULL")
                    .execute(&write)
                    .await?;
                let read = opts().max_connections(4).connect(&url).await?;
                Store {
                    write,
                    read,
                    dialect,
                    sqlite_sync,
                }
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                Store {
                    write: pool.clone(),
                    read: pool,
                    dialect,
                    sqlite_sync,
                }
            }
        };
        Ok(store)
    }

    /// The SQLite url for a database file in `data_dir`.
    pub fn sqlite_url_in(data_dir: &Path) -> String {
        crate::config::sqlite_url_in(data_dir)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(super) async fn fetch_all(&self, pool: &AnyPool, q: Query) -> StoreResult<Vec<AnyRow>> {
        let (sql, args) = q.build()?;
        Ok(sqlx::query_with(&sql, args).fetch_all(pool).await?)
    }

    pub(super) async fn fetch_optional(
        &self,
        pool: &AnyPool,
        q: Query,
    ) -> StoreResult<Option<AnyRow>> {
        let (sql, args) = q.build()?;
        Ok(sqlx::query_with(&sql, args).fetch_optional(pool).await?)
    }

    /// The `n` column of a `SELECT COUNT(*) AS n …` (0 if no row).
    pub(super) async fn count_rows(&self, q: Query) -> StoreResult<i64> {
        Ok(match self.fetch_optional(&self.read, q).await? {
            Some(row) => row.try_get("n")?,
            None => 0,
        })
    }

    pub(super) async fn execute(&self, q: Query) -> StoreResult<u64> {
        let (sql, args) = q.build()?;
        Ok(sqlx::query_with(&sql, args)
            .execute(&self.write)
            .await
            .map_err(conflict_as_typed)?
            .rows_affected())
    }

    pub(super) async fn get_one<T>(
        &self,
        cols: &str,
        table: &str,
        key: &str,
        value: &str,
        map: fn(&AnyRow) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let mut q = Query::new(&format!("SELECT {cols} FROM {table} WHERE {key} = "));
        q.bind(value.to_owned());
        self.fetch_optional(&self.read, q)
            .await?
            .as_ref()
            .map(map)
            .transpose()
    }

    /// One page of `table`, filtered by `filters` (which appends ` AND …` terms),
    /// ordered by id and cut at the page's cursor.
    pub(super) async fn list<T>(
        &self,
        cols: &str,
        table: &str,
        filters: &(dyn Fn(&mut Query) + Sync),
        page: &PageQuery,
        map: fn(&AnyRow) -> StoreResult<T>,
        id_of: fn(&T) -> &str,
    ) -> StoreResult<Page<T>> {
        let mut count_q = Query::new(&format!("SELECT COUNT(*) AS n FROM {table} WHERE 1 = 1"));
        filters(&mut count_q);
        let count = self.count_rows(count_q).await?;

        let limit = page.limit.clamp(1, 250);
        let (cursor, going_back) = match (&page.next, &page.prev) {
            (Some(n), _) => (Some(n.clone()), false),
            (None, Some(p)) => (Some(p.clone()), true),
            (None, None) => (None, false),
        };
        let desc = page.dir == Direction::Desc;
        // Going back over a descending list reads ascending from the cursor, then flips.
        let read_desc = desc != going_back;
        let mut q = Query::new(&format!("SELECT {cols} FROM {table} WHERE 1 = 1"));
        filters(&mut q);
        if let Some(c) = cursor.clone() {
            q.push(if read_desc {
                " AND id < "
            } else {
                " AND id > "
            });
            q.bind(c);
        }
        q.push(if read_desc {
            " ORDER BY id DESC LIMIT "
        } else {
            " ORDER BY id ASC LIMIT "
        });
        q.bind(limit + 1);
        let rows = self.fetch_all(&self.read, q).await?;
        let mut models = rows.iter().map(map).collect::<StoreResult<Vec<T>>>()?;
        let has_more = models.len() as i64 > limit;
        models.truncate(limit as usize);
        if going_back {
            models.reverse();
        }
        let first = models.first().map(|m| id_of(m).to_owned());
        let last = models.last().map(|m| id_of(m).to_owned());
        let (next, prev) = match (cursor.is_some(), going_back) {
            (false, _) => (if has_more { last } else { None }, None),
            (true, false) => (if has_more { last } else { None }, first),
            (true, true) => (last, if has_more { first } else { None }),
        };
        Ok(Page {
            models,
            next,
            prev,
            count,
        })
    }

    async fn insert_connection_rows(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        c: &Connection,
        s: Option<&Source>,
        d: Option<&Destination>,
    ) -> StoreResult<()> {
        if let Some(s) = s {
            let (sql, args) = source_insert(s)?;
            sqlx::query_with(&sql, args)
                .execute(&mut **tx)
                .await
                .map_err(conflict_as_typed)?;
        }
        if let Some(d) = d {
            let (sql, args) = destination_insert(d)?;
            sqlx::query_with(&sql, args)
                .execute(&mut **tx)
                .await
                .map_err(conflict_as_typed)?;
        }
        let rules = to_json(&c.rules)?;
        let mut q = Query::new(&format!(
            "INSERT INTO connections ({CONNECTION_COLS}) VALUES "
        ));
        q.values([c], |r, c| {
            r.bind(c.id.clone())
                .bind(c.name.clone())
                .bind(c.description.clone())
                .bind(c.source_id.clone())
                .bind(c.destination_id.clone())
                .bind(rules.clone())
                .bind(c.disabled_at)
                .bind(c.paused_at)
                .bind(c.created_at)
                .bind(c.updated_at);
            Ok(())
        })?;
        let (sql, args) = q.build()?;
        sqlx::query_with(&sql, args)
            .execute(&mut **tx)
            .await
            .map_err(conflict_as_typed)?;
        Ok(())
    }

    /// Inserts events of any number of requests, a few hundred rows a statement.
    async fn insert_events_tx(
        dialect: Dialect,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        rows: &[EventRow<'_>],
        now: i64,
    ) -> StoreResult<()> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut q = Query::in_order(dialect, "");
            push_events_insert(&mut q, chunk, now, false)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn insert_ignored_tx(
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

    /// Runs `script`, a whole write transaction (`BEGIN IMMEDIATE; …; COMMIT`), on
    /// the SQLite writer as one statement string, and returns the rows its
    /// statements produced. sqlx runs each SQLite connection on its own thread and
    /// every statement is a round trip to it (a channel send, a thread wake-up, and
    /// the answer waiting for a busy tokio worker); a transaction of BEGIN, two
    /// statements and COMMIT held the one writer for four of them. One string is
    /// one round trip. (SQLite only: PostgreSQL takes one statement per prepared
    /// query.)
    pub(super) async fn sqlite_script(
        &self,
        script: Query,
        durability: Durability,
    ) -> StoreResult<Vec<AnyRow>> {
        let (sql, args) = script.build()?;
        let restore = sqlite_pragma(self.sqlite_sync);
        let sql = match durability {
            Durability::Acknowledged => sql,
            Durability::Bookkeeping => {
                format!("PRAGMA synchronous = NORMAL; {sql}; {restore}")
            }
        };
        let mut conn = ScriptConn(Some(self.write.acquire().await?));
        let c = conn.0.as_mut().expect("connection held until finished");
        match sqlx::query_with(&sql, args).fetch_all(&mut **c).await {
            Ok(rows) => {
                conn.release();
                Ok(rows)
            }
            Err(e) => {
                // The statement that failed left the transaction open (and maybe the
                // relaxed sync mode on): end both, or drop the connection rather
                // than hand on one in that state.
                if c.execute("ROLLBACK").await.is_ok() && c.execute(restore).await.is_ok() {
                    conn.release();
                }
                Err(e.into())
            }
        }
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

    /// [`Store::insert_requests`] on SQLite: the whole transaction as one
    /// [`Self::sqlite_script`]. Events and ignored events go first, each row kept
    /// only while its request is not stored yet, and the requests after them: in
    /// the one writer's transaction that is exactly "the requests this insert makes
    /// new", which the other backend learns from the `RETURNING` of the requests'
    /// insert, a round trip earlier.
    async fn insert_requests_sqlite(
        &self,
        reqs: &[NewRequest],
        now: i64,
    ) -> StoreResult<Vec<String>> {
        let (events, ignored) = route_rows(routed_requests(reqs.iter()));
        let mut q = Query::in_order(self.dialect, "BEGIN IMMEDIATE; ");
        for chunk in events.chunks(INSERT_CHUNK) {
            push_events_insert(&mut q, chunk, now, true)?;
            q.push("; ");
        }
        for chunk in ignored.chunks(INSERT_CHUNK) {
            push_ignored_insert(&mut q, chunk, true)?;
            q.push("; ");
        }
        for chunk in reqs.chunks(INSERT_CHUNK) {
            push_requests_insert(&mut q, chunk, now)?;
            q.push("; ");
        }
        q.push("COMMIT");
        self.sqlite_script(q, Durability::Acknowledged)
            .await?
            .iter()
            .map(|row| Ok(row.try_get::<String, _>("id")?))
            .collect()
    }

    /// Deletes the connections whose `column` is `value`. Their pending events
    /// have nowhere to go any more: they end as FAILED with `CANCELLED`, so they
    /// show as failed rather than waiting for ever.
    async fn delete_connections_tx(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        column: &str,
        value: &str,
    ) -> StoreResult<u64> {
        let mut q = Query::new(
            "UPDATE events SET status = 'FAILED', error_code = 'CANCELLED', \
             next_attempt_at = NULL, lease_until = NULL, updated_at = ",
        );
        q.bind(crate::clock::now_ms()).push(&format!(
            " WHERE status IN ('QUEUED', 'SCHEDULED', 'HOLD') AND connection_id IN \
             (SELECT id FROM connections WHERE {column} = "
        ));
        q.bind(value.to_owned()).push(")");
        let (sql, args) = q.build()?;
        sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        let mut q = Query::new(&format!("DELETE FROM connections WHERE {column} = "));
        q.bind(value.to_owned());
        let (sql, args) = q.build()?;
        Ok(sqlx::query_with(&sql, args)
            .execute(&mut **tx)
            .await?
            .rows_affected())
    }

    /// Deletes a source or destination (`table`) with its connections.
    async fn delete_with_connections(
        &self,
        table: &str,
        column: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        Self::delete_connections_tx(&mut tx, column, id).await?;
        let mut q = Query::new(&format!("DELETE FROM {table} WHERE id = "));
        q.bind(id.to_owned());
        let (sql, args) = q.build()?;
        let n = sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    pub(super) async fn events_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Event>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Query::new(&format!("SELECT {EVENT_COLS} FROM events WHERE id IN "));
        q.bind_list(ids.iter().cloned());
        q.push(" ORDER BY id");
        self.fetch_all(&self.write, q)
            .await?
            .iter()
            .map(rows::event)
            .collect()
    }
}

/// How durable a SQLite write script must be when it commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// Something a provider is told was stored: synced as configured
    /// (`sqlite.synchronous`, FULL by default: fsynced before the answer).
    Acknowledged,
    /// Delivery bookkeeping (leases, attempt results): committed without its own
    /// fsync. The WAL is append-only, so the next synced commit makes it durable
    /// too; until then a power loss can only take it back to an earlier state,
    /// where the event is simply delivered again (at-least-once). A process crash
    /// loses nothing either way: the OS holds the written pages.
    Bookkeeping,
}

/// A writer connection running a [`Store::sqlite_script`]. Dropped before
/// [`ScriptConn::release`] (the caller's future cancelled mid-script, or a failed
/// ROLLBACK) it closes the connection instead of returning it to the pool, as it
/// may still be inside the script's transaction.
struct ScriptConn(Option<sqlx::pool::PoolConnection<sqlx::Any>>);

impl ScriptConn {
    fn release(&mut self) {
        self.0.take();
    }
}

impl Drop for ScriptConn {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            c.close_on_drop();
        }
    }
}

/// Appends `INSERT INTO events … ` for `rows`, keeping only rows whose connection
/// still exists: ingest routes with connections cached for a second, and an event
/// for a connection deleted meanwhile could never be delivered or failed. With
/// `only_new_requests`, rows whose request is already stored are left out too
/// (`NOT EXISTS`, for a script that runs it before inserting the requests; see
/// [`Store::insert_requests_sqlite`]).
fn push_events_insert(
    q: &mut Query,
    rows: &[EventRow<'_>],
    now: i64,
    only_new_requests: bool,
) -> StoreResult<()> {
    q.push(
        "INSERT INTO events (id, request_id, connection_id, source_id, destination_id, \
         status, attempts, next_attempt_at, next_trigger, created_at, updated_at) ",
    );
    q.push("SELECT * FROM (VALUES ");
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
        Ok(())
    })?;
    q.push(") AS v WHERE EXISTS (SELECT 1 FROM connections c WHERE c.id = v.column3)");
    if only_new_requests {
        q.push(" AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = v.column2)");
    }
    Ok(())
}

/// Appends `INSERT INTO ignored_events …` for `rows`; `only_new_requests` as for
/// [`push_events_insert`].
fn push_ignored_insert(
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

/// Appends the `INSERT INTO attempts …` of `chunk`.
fn push_attempts_insert(q: &mut Query, chunk: &[AttemptOutcome]) -> StoreResult<()> {
    q.push(&format!("INSERT INTO attempts ({ATTEMPT_COLS}) VALUES "));
    q.values(chunk, |r, o| {
        let a = &o.attempt;
        r.bind(a.id.clone())
            .bind(a.event_id.clone())
            .bind(a.destination_id.clone())
            .bind(a.attempt_number)
            .bind(a.trigger.as_str())
            .bind(a.status.as_str())
            .bind(a.response_status)
            .bind(opt_json(&a.response_headers)?)
            .bind(a.response_body.as_deref().map(storable_text))
            .bind(a.error_code.clone())
            .bind(a.error_message.as_deref().map(storable_text))
            .bind(a.requested_url.clone())
            .bind(a.http_method.clone())
            .bind(a.duration_ms)
            .bind(a.created_at);
        Ok(())
    })?;
    Ok(())
}

/// Appends the one `UPDATE events` of `chunk`, joining a VALUES list (both backends
/// name its columns column1…columnN).
fn push_events_update(q: &mut Query, chunk: &[AttemptOutcome], now: i64) -> StoreResult<()> {
    q.push(
        "UPDATE events SET status = v.column2, attempts = v.column3, \
         last_attempt_at = v.column4, next_attempt_at = v.column5, \
         response_status = v.column6, error_code = v.column7, \
         successful_at = COALESCE(v.column8, events.successful_at), \
         next_trigger = 'AUTOMATIC', lease_until = NULL, updated_at = ",
    );
    q.bind(now).push(" FROM (VALUES ");
    q.values(chunk, |r, o| {
        let a = &o.attempt;
        let succeeded = o.status == EventStatus::Successful;
        r.bind(a.event_id.clone())
            .bind(o.status.as_str())
            .bind(a.attempt_number)
            .bind(a.created_at)
            .bind(o.next_attempt_at)
            .bind(a.response_status)
            .bind(a.error_code.clone())
            .bind(if succeeded { Some(now) } else { None })
            .bind(o.lease_until);
        Ok(())
    })?;
    // Only while the event still holds the lease this attempt was made under.
    q.push(") AS v WHERE events.id = v.column1 AND events.lease_until = v.column9");
    Ok(())
}

/// Appends the `INSERT INTO requests …` of `chunk`, skipping ids already stored and
/// returning the ids that were new.
fn push_requests_insert(q: &mut Query, chunk: &[NewRequest], now: i64) -> StoreResult<()> {
    q.push(
        "INSERT INTO requests (id, source_id, method, path, query, headers, body, \
         body_size, verified, rejection_cause, routed, events_count, ignored_count, \
         received_at, created_at, updated_at) VALUES ",
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
            .bind(now);
        Ok(())
    })?;
    q.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
    Ok(())
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Text from outside (a request line, a destination's response) as it can be stored.
///
/// PostgreSQL `TEXT` cannot hold NUL ("invalid byte sequence for encoding UTF8:
/// 0x00"), so one such string failed the whole batch there (a group commit of
/// requests; the dispatcher's attempt writes, which are retried forever) while
/// SQLite stored it. NUL becomes U+FFFD, as `from_utf8_lossy` does for other
/// unrepresentable bytes, on both backends so they return the same text.
fn storable_text(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

pub(super) fn opt_json<T: serde::Serialize>(v: &Option<T>) -> StoreResult<Option<String>> {
    v.as_ref().map(to_json).transpose()
}

/// Unique-constraint violations become [`StoreError::Conflict`], so the API can say
/// "a source named X already exists" instead of a database error.
pub(super) fn conflict_as_typed(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        let msg = db.message().to_ascii_lowercase();
        if db.is_unique_violation() || msg.contains("unique") || msg.contains("duplicate key") {
            return StoreError::Conflict(describe_conflict(db.message()));
        }
        if db.is_foreign_key_violation() || msg.contains("foreign key") {
            return StoreError::MissingReference(
                "the source or destination was deleted meanwhile".into(),
            );
        }
    }
    StoreError::Database(e)
}

fn describe_conflict(msg: &str) -> String {
    let m = msg.to_ascii_lowercase();
    if m.contains("connections") {
        "a connection with this name for this source".into()
    } else if m.contains("destinations") {
        "a destination with this name".into()
    } else if m.contains("sources") {
        "a source with this name".into()
    } else {
        "a record with this key".into()
    }
}

fn source_values(q: &mut Query, s: &Source) -> StoreResult<()> {
    q.values([s], |r, s| {
        r.bind(s.id.clone())
            .bind(s.name.clone())
            .bind(s.description.clone())
            .bind(opt_json(&s.allowed_http_methods)?)
            .bind(opt_json(&s.custom_response)?)
            .bind(opt_json(&s.verification)?)
            .bind(s.max_body_bytes)
            .bind(s.disabled_at)
            .bind(s.created_at)
            .bind(s.updated_at);
        Ok(())
    })?;
    Ok(())
}

fn source_insert(s: &Source) -> StoreResult<(String, sqlx::any::AnyArguments<'static>)> {
    let mut q = Query::new(&format!("INSERT INTO sources ({SOURCE_COLS}) VALUES "));
    source_values(&mut q, s)?;
    q.build()
}

fn destination_values(q: &mut Query, d: &Destination) -> StoreResult<()> {
    let period = d
        .rate_limit_period
        .map(|p| match serde_json::to_value(p) {
            Ok(serde_json::Value::String(s)) => Ok(s),
            _ => Err(StoreError::Corrupt("rate_limit_period".into())),
        })
        .transpose()?;
    q.values([d], |r, d| {
        r.bind(d.id.clone())
            .bind(d.name.clone())
            .bind(d.description.clone())
            .bind(d.url.clone())
            .bind(d.cli_path.clone())
            .bind(d.http_method.clone())
            .bind(opt_json(&d.auth_method)?)
            .bind(d.rate_limit)
            .bind(period.clone())
            .bind(i64::from(d.path_forwarding_disabled))
            .bind(d.disabled_at)
            .bind(d.created_at)
            .bind(d.updated_at)
            .bind(d.max_concurrency)
            .bind(d.auto_disable_after)
            .bind(d.disabled_reason.clone());
        Ok(())
    })?;
    Ok(())
}

fn destination_insert(d: &Destination) -> StoreResult<(String, sqlx::any::AnyArguments<'static>)> {
    let mut q = Query::new(&format!(
        "INSERT INTO destinations ({DESTINATION_COLS}) VALUES "
    ));
    destination_values(&mut q, d)?;
    q.build()
}

/// `UPDATE table SET every column but id WHERE id = $1`, from the binder that
/// writes the INSERT values: it binds `$1…$N` in the order of `cols`, id first, so
/// the same binder serves both statements.
pub(super) fn update_all(
    table: &str,
    cols: &str,
    values: impl FnOnce(&mut Query) -> StoreResult<()>,
) -> StoreResult<Query> {
    let mut q = Query::new("");
    values(&mut q)?;
    let sets: Vec<String> = cols
        .split(',')
        .map(str::trim)
        .enumerate()
        .skip(1)
        .map(|(i, name)| format!("{name} = ${}", i + 1))
        .collect();
    q.replace_sql(format!(
        "UPDATE {table} SET {} WHERE id = $1",
        sets.join(", ")
    ));
    Ok(q)
}

/// The `AND …` terms of an [`EventFilter`] beyond the plain equalities.
pub(super) fn push_event_filters(q: &mut Query, f: &EventFilter) {
    if let Some(s) = f.status {
        q.push(" AND status = ").bind(s.as_str());
    }
    if !f.statuses.is_empty() {
        q.push(" AND status IN ")
            .bind_list(f.statuses.iter().map(|s| s.as_str()));
    }
    q.and_eq("issue_id", &f.issue_id);
    if let Some(from) = f.created_from {
        q.push(" AND created_at >= ").bind(from);
    }
    if let Some(to) = f.created_to {
        q.push(" AND created_at <= ").bind(to);
    }
    if !f.response_statuses.is_empty() {
        q.push(" AND response_status IN ")
            .bind_list(f.response_statuses.iter().copied());
    }
    if let Some((min, max)) = f.response_status_range {
        q.push(" AND response_status >= ")
            .bind(min)
            .push(" AND response_status <= ")
            .bind(max);
    }
    if !f.error_codes.is_empty() {
        q.push(" AND error_code IN ")
            .bind_list(f.error_codes.iter().cloned());
    }
}

impl Store {
    pub async fn insert_source(&self, s: &Source) -> StoreResult<()> {
        let (sql, args) = source_insert(s)?;
        sqlx::query_with(&sql, args)
            .execute(&self.write)
            .await
            .map_err(conflict_as_typed)?;
        Ok(())
    }

    pub async fn update_source(&self, s: &Source) -> StoreResult<()> {
        let q = update_all("sources", SOURCE_COLS, |q| source_values(q, s))?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_source(&self, id: &str) -> StoreResult<Option<Source>> {
        self.get_one(SOURCE_COLS, "sources", "id", id, rows::source)
            .await
    }

    pub async fn find_source_by_name(&self, name: &str) -> StoreResult<Option<Source>> {
        self.get_one(SOURCE_COLS, "sources", "name", name, rows::source)
            .await
    }

    pub async fn list_sources(&self, f: &SourceFilter, page: &PageQuery) -> StoreResult<Page<Source>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id)
                .and_eq("name", &f.name)
                .and_set("disabled_at", f.disabled);
        };
        self.list(SOURCE_COLS, "sources", &filters, page, rows::source, |s| {
            &s.id
        })
        .await
    }

    /// Deletes the source and its connections (their pending events end as
    /// FAILED, `CANCELLED`).
    pub async fn delete_source(&self, id: &str) -> StoreResult<bool> {
        self.delete_with_connections("sources", "source_id", id)
            .await
    }

    pub async fn insert_destination(&self, d: &Destination) -> StoreResult<()> {
        let (sql, args) = destination_insert(d)?;
        sqlx::query_with(&sql, args)
            .execute(&self.write)
            .await
            .map_err(conflict_as_typed)?;
        Ok(())
    }

    pub async fn update_destination(&self, d: &Destination) -> StoreResult<()> {
        let q = update_all("destinations", DESTINATION_COLS, |q| {
            destination_values(q, d)
        })?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_destination(&self, id: &str) -> StoreResult<Option<Destination>> {
        self.get_one(
            DESTINATION_COLS,
            "destinations",
            "id",
            id,
            rows::destination,
        )
        .await
    }

    pub async fn find_destination_by_name(&self, name: &str) -> StoreResult<Option<Destination>> {
        self.get_one(
            DESTINATION_COLS,
            "destinations",
            "name",
            name,
            rows::destination,
        )
        .await
    }

    pub async fn list_destinations(
        &self,
        f: &DestinationFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Destination>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id)
                .and_eq("name", &f.name)
                .and_eq("url", &f.url)
                .and_set("disabled_at", f.disabled);
        };
        self.list(
            DESTINATION_COLS,
            "destinations",
            &filters,
            page,
            rows::destination,
            |d| &d.id,
        )
        .await
    }

    /// Deletes the destination and its connections (their pending events end as
    /// FAILED, `CANCELLED`).
    pub async fn delete_destination(&self, id: &str) -> StoreResult<bool> {
        self.delete_with_connections("destinations", "destination_id", id)
            .await
    }

    /// Creates a connection, and the source / destination given inline with it, in
    /// one transaction (so a failed connection leaves no half-made source behind).
    pub async fn insert_connection(
        &self,
        c: &Connection,
        new_source: Option<&Source>,
        new_destination: Option<&Destination>,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        Self::insert_connection_rows(&mut tx, c, new_source, new_destination).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_connection(&self, c: &Connection) -> StoreResult<()> {
        let rules = to_json(&c.rules)?;
        let mut q = Query::new("UPDATE connections SET name = ");
        q.bind(c.name.clone())
            .push(", description = ")
            .bind(c.description.clone())
            .push(", rules = ")
            .bind(rules)
            .push(", disabled_at = ")
            .bind(c.disabled_at)
            .push(", paused_at = ")
            .bind(c.paused_at)
            .push(", updated_at = ")
            .bind(c.updated_at)
            .push(" WHERE id = ")
            .bind(c.id.clone());
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_connection(&self, id: &str) -> StoreResult<Option<Connection>> {
        self.get_one(CONNECTION_COLS, "connections", "id", id, rows::connection)
            .await
    }

    pub async fn list_connections(
        &self,
        f: &ConnectionFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Connection>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id)
                .and_eq("name", &f.name)
                .and_eq("source_id", &f.source_id)
                .and_eq("destination_id", &f.destination_id)
                .and_set("disabled_at", f.disabled)
                .and_set("paused_at", f.paused);
        };
        self.list(
            CONNECTION_COLS,
            "connections",
            &filters,
            page,
            rows::connection,
            |c| &c.id,
        )
        .await
    }

    pub async fn connections_of_source(&self, source_id: &str) -> StoreResult<Vec<Connection>> {
        let mut q = Query::new(&format!(
            "SELECT {CONNECTION_COLS} FROM connections WHERE source_id = "
        ));
        q.bind(source_id.to_owned()).push(" ORDER BY id");
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(rows::connection)
            .collect()
    }

    /// Deletes the connection; its pending events end as FAILED, `CANCELLED`.
    pub async fn delete_connection(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let n = Self::delete_connections_tx(&mut tx, "id", id).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Stores requests in one transaction, idempotent on the envelope id. Returns
    /// the ids that were new (a redelivered id is skipped, not an error).
    pub async fn insert_requests(&self, reqs: &[NewRequest], now: i64) -> StoreResult<Vec<String>> {
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
            return self.insert_unique_requests(&unique, now).await;
        }
        self.insert_unique_requests(reqs, now).await
    }

    /// [`Store::insert_requests`] of requests whose ids are all different.
    async fn insert_unique_requests(
        &self,
        reqs: &[NewRequest],
        now: i64,
    ) -> StoreResult<Vec<String>> {
        if self.dialect == Dialect::Sqlite {
            return self.insert_requests_sqlite(reqs, now).await;
        }
        let mut inserted = Vec::with_capacity(reqs.len());
        let mut tx = self.write.begin().await?;
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
        Self::insert_events_tx(self.dialect, &mut tx, &events, now).await?;
        Self::insert_ignored_tx(self.dialect, &mut tx, &ignored).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn get_request(&self, id: &str, with_body: bool) -> StoreResult<Option<RequestRecord>> {
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

    pub async fn list_requests(
        &self,
        f: &RequestFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<RequestRecord>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id)
                .and_eq("source_id", &f.source_id)
                .and_set("rejection_cause", f.rejected);
        };
        self.list(
            REQUEST_COLS,
            "requests",
            &filters,
            page,
            |r| rows::request(r, false),
            |r| &r.id,
        )
        .await
    }

    pub async fn ignored_events_of_request(&self, request_id: &str) -> StoreResult<Vec<IgnoredEvent>> {
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

    /// Adds the events of `route` to an already routed request (a manual request
    /// retry), with their transformed requests, failed transformations and
    /// executions, in one transaction.
    pub async fn add_events(&self, route: &PreparedRoute, now: i64) -> StoreResult<Vec<Event>> {
        let events = &route.route.events;
        let mut tx = self.write.begin().await?;
        let rows: Vec<EventRow<'_>> = events
            .iter()
            .map(|event| EventRow {
                request_id: &route.request_id,
                source_id: &route.source_id,
                event,
            })
            .collect();
        Self::insert_events_tx(self.dialect, &mut tx, &rows, now).await?;
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

    pub async fn get_event(&self, id: &str) -> StoreResult<Option<Event>> {
        self.get_one(EVENT_COLS, "events", "id", id, rows::event)
            .await
    }

    pub async fn list_events(&self, f: &EventFilter, page: &PageQuery) -> StoreResult<Page<Event>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id)
                .and_eq("connection_id", &f.connection_id)
                .and_eq("source_id", &f.source_id)
                .and_eq("destination_id", &f.destination_id)
                .and_eq("request_id", &f.request_id);
            push_event_filters(q, f);
        };
        self.list(EVENT_COLS, "events", &filters, page, rows::event, |e| &e.id)
            .await
    }

    /// Queues the event for a manual attempt now, unless an attempt is under way.
    pub async fn retry_event(&self, id: &str, now: i64) -> StoreResult<RetryOutcome> {
        let mut q = Query::new("UPDATE events SET status = ");
        q.bind(EventStatus::Queued.as_str())
            .push(", next_attempt_at = ")
            .bind(now)
            .push(", next_trigger = ")
            .bind(AttemptTrigger::Manual.as_str())
            .push(", lease_until = NULL, updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id.to_owned())
            .push(" AND (lease_until IS NULL OR lease_until <= ")
            .bind(now)
            .push(")");
        if self.execute(q).await? == 1 {
            return Ok(match self.events_by_ids(&[id.to_owned()]).await?.pop() {
                Some(e) => RetryOutcome::Queued(Box::new(e)),
                None => RetryOutcome::NotFound,
            });
        }
        let mut q = Query::new("SELECT lease_until FROM events WHERE id = ");
        q.bind(id.to_owned());
        Ok(match self.fetch_optional(&self.write, q).await? {
            Some(row) => RetryOutcome::InFlight {
                lease_until: row.try_get::<Option<i64>, _>("lease_until")?.unwrap_or(now),
            },
            None => RetryOutcome::NotFound,
        })
    }

    /// [`Store::lease_due_events`] for some destinations only. Each event comes
    /// with the request it delivers: its transformed request where routing stored
    /// one, else the request as received.
    pub async fn lease_due_events_in(
        &self,
        now: i64,
        limit: i64,
        lease_until: i64,
        scope: &LeaseScope,
    ) -> StoreResult<Vec<DueEvent>> {
        let mut q = Query::in_order(self.dialect, "UPDATE events SET lease_until = ");
        q.bind(lease_until).push(
            " WHERE id IN (SELECT e.id FROM events e \
             JOIN connections c ON c.id = e.connection_id \
             JOIN destinations d ON d.id = e.destination_id \
             WHERE e.status IN ('QUEUED', 'SCHEDULED') AND e.next_attempt_at <= ",
        );
        q.bind(now)
            .push(" AND (e.lease_until IS NULL OR e.lease_until <= ")
            .bind(now)
            .push(
                ") AND c.paused_at IS NULL AND c.disabled_at IS NULL \
                 AND d.disabled_at IS NULL",
            );
        match scope {
            LeaseScope::All => {}
            LeaseScope::Except(ids) if ids.is_empty() => {}
            LeaseScope::Except(ids) => {
                q.push(" AND e.destination_id NOT IN ")
                    .bind_list(ids.iter().cloned());
            }
            LeaseScope::Only(id) => {
                q.push(" AND e.destination_id = ").bind(id.clone());
            }
        }
        q.push(" ORDER BY e.next_attempt_at LIMIT ")
            .bind(limit)
            .push(&self.dialect.skip_locked("e"))
            .push(&format!(") RETURNING {EVENT_COLS}"));
        let leased = match self.dialect {
            Dialect::Sqlite => self.sqlite_script(q, Durability::Bookkeeping).await?,
            Dialect::Postgres => self.fetch_all(&self.write, q).await?,
        };
        let mut events = leased
            .iter()
            .map(rows::event)
            .collect::<StoreResult<Vec<_>>>()?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // RETURNING gives no order; deliver oldest due first.
        events.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        let request_ids: BTreeSet<String> = events.iter().map(|e| e.request_id.clone()).collect();
        let mut q = Query::in_order(
            self.dialect,
            &format!("SELECT {REQUEST_COLS}, body FROM requests WHERE id IN "),
        );
        q.bind_list(request_ids);
        let mut requests: HashMap<String, RequestRecord> = HashMap::new();
        for row in self.fetch_all(&self.read, q).await? {
            let r = rows::request(&row, true)?;
            requests.insert(r.id.clone(), r);
        }
        // An error here fails the lease round (the leases lapse and the events
        // come back): delivering the original of an event that was transformed
        // would send what the user asked to rewrite.
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        let mut transformed = self.transformed_requests(&ids).await?;
        events
            .into_iter()
            .map(|event| {
                let mut request = requests.get(&event.request_id).cloned().ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "event {} refers to missing request {}",
                        event.id, event.request_id
                    ))
                })?;
                if let Some(t) = transformed.remove(&event.id) {
                    request.deliver_as(t);
                }
                Ok(DueEvent { event, request })
            })
            .collect()
    }

    /// The request `event` delivers, as the API shows it: its transformed request
    /// when it has one, else the request as received.
    pub async fn delivered_request(&self, event: &Event) -> StoreResult<Option<RequestRecord>> {
        let Some(mut req) = self.get_request(&event.request_id, true).await? else {
            return Ok(None);
        };
        if let Some(t) = self
            .transformed_requests(std::slice::from_ref(&event.id))
            .await?
            .remove(&event.id)
        {
            req.deliver_as(t);
        }
        Ok(Some(req))
    }

    /// Gives leased events back without an attempt (the destination's limit said
    /// not now): they stay due, in their place in the queue.
    pub async fn release_leases(&self, ids: &[String], lease_until: i64) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = Query::in_order(
            self.dialect,
            "UPDATE events SET lease_until = NULL WHERE lease_until = ",
        );
        q.bind(lease_until)
            .push(" AND id IN ")
            .bind_list(ids.iter().cloned());
        self.execute(q).await?;
        Ok(())
    }

    /// Active destinations with a rate or concurrency limit.
    pub async fn limited_destinations(&self) -> StoreResult<Vec<Destination>> {
        let q = Query::new(&format!(
            "SELECT {DESTINATION_COLS} FROM destinations WHERE disabled_at IS NULL \
             AND (rate_limit IS NOT NULL OR max_concurrency IS NOT NULL) ORDER BY id"
        ));
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(rows::destination)
            .collect()
    }

    /// When the earliest pending event that is not being delivered becomes due, if
    /// any (for the dispatcher's sleep).
    pub async fn next_due_at(&self, now: i64) -> StoreResult<Option<i64>> {
        // The same conditions as leasing: events being delivered right now, or whose
        // connection is paused or destination disabled, are not "due" (counting
        // them would wake the dispatcher in a loop with nothing to lease).
        let mut q = Query::new(
            "SELECT e.next_attempt_at AS t FROM events e \
             JOIN connections c ON c.id = e.connection_id \
             JOIN destinations d ON d.id = e.destination_id \
             WHERE e.status IN ('QUEUED', 'SCHEDULED') AND c.paused_at IS NULL \
             AND c.disabled_at IS NULL AND d.disabled_at IS NULL \
             AND (e.lease_until IS NULL OR e.lease_until <= ",
        );
        q.bind(now).push(") ORDER BY e.next_attempt_at LIMIT 1");
        Ok(match self.fetch_optional(&self.read, q).await? {
            Some(row) => row.try_get::<Option<i64>, _>("t")?,
            None => None,
        })
    }

    /// Records attempts and updates their events, in one transaction.
    pub async fn record_attempts(&self, outcomes: &[AttemptOutcome], now: i64) -> StoreResult<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        if self.dialect == Dialect::Sqlite {
            // The whole transaction in one round trip to the writer's thread.
            let mut q = Query::in_order(self.dialect, "BEGIN IMMEDIATE; ");
            for chunk in outcomes.chunks(INSERT_CHUNK) {
                push_attempts_insert(&mut q, chunk)?;
                q.push("; ");
                push_events_update(&mut q, chunk, now)?;
                q.push("; ");
            }
            q.push("COMMIT");
            self.sqlite_script(q, Durability::Bookkeeping).await?;
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        for chunk in outcomes.chunks(INSERT_CHUNK) {
            let mut q = Query::in_order(self.dialect, "");
            push_attempts_insert(&mut q, chunk)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
            // One UPDATE for the whole chunk, not one per event.
            let mut q = Query::in_order(self.dialect, "");
            push_events_update(&mut q, chunk, now)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_attempt(&self, id: &str) -> StoreResult<Option<Attempt>> {
        self.get_one(ATTEMPT_COLS, "attempts", "id", id, rows::attempt)
            .await
    }

    pub async fn list_attempts(
        &self,
        f: &AttemptFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Attempt>> {
        let filters = |q: &mut Query| {
            q.and_eq("event_id", &f.event_id)
                .and_eq("destination_id", &f.destination_id);
        };
        self.list(
            ATTEMPT_COLS,
            "attempts",
            &filters,
            page,
            rows::attempt,
            |a| &a.id,
        )
        .await
    }

    /// Leases up to `limit` events that are due, not leased, and whose connection and
    /// destination are active, until `lease_until`. Replicas never lease the same
    /// event while a lease is valid.
    pub async fn lease_due_events(
        &self,
        now: i64,
        limit: i64,
        lease_until: i64,
    ) -> StoreResult<Vec<DueEvent>> {
        self.lease_due_events_in(now, limit, lease_until, &LeaseScope::All)
            .await
    }
}

/// The statement that puts a connection in `sync` mode.
fn sqlite_pragma(sync: SqliteSync) -> &'static str {
    match sync {
        SqliteSync::Full => "PRAGMA synchronous = FULL",
        SqliteSync::Normal => "PRAGMA synchronous = NORMAL",
    }
}
