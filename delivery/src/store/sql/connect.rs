//! The [`Store`] itself: connecting, pools, pragmas, migrations, and the few
//! helpers every aggregate's queries go through (fetch, execute, get one, list a page).

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

use super::dialect::Dialect;
use super::query::Query;
use crate::store::{
    Direction, Page, PageQuery, SortColumn, SqliteSync, StoreError, StoreResult, COUNT_CAP,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub struct Store {
    pub(in crate::store) write: AnyPool,
    pub(in crate::store) read: AnyPool,
    pub(in crate::store) dialect: Dialect,
    pub(super) sqlite_sync: SqliteSync,
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
    /// A write transaction. On SQLite it takes the write lock at `BEGIN`
    /// (`IMMEDIATE`): a deferred transaction that reads first and writes after
    /// another connection wrote fails at once with "database is locked", without
    /// waiting out the busy timeout.
    pub(in crate::store) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.write.begin().await,
        }
    }

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
                    AnyPoolOptions::new()
                        // A SQLite connection is a file handle in this process: it
                        // cannot go stale, so sqlx's ping before each use (a round
                        // trip to the connection's thread) is pure cost.
                        .test_before_acquire(false)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                // Only takes effect in a database without tables yet:
                                // lets retention give freed pages back to the disk.
                                conn.execute("PRAGMA auto_vacuum = INCREMENTAL").await?;
                                conn.execute("PRAGMA journal_mode = WAL").await?;
                                conn.execute(sync).await?;
                                conn.execute("PRAGMA busy_timeout = 10000").await?;
                                // Statement journals (each multi-row insert keeps one
                                // while it runs) in memory: on disk each commit
                                // created, wrote and deleted a file in /var/tmp.
                                conn.execute("PRAGMA temp_store = MEMORY").await?;
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

    pub(in crate::store) async fn fetch_all(
        &self,
        pool: &AnyPool,
        q: Query,
    ) -> StoreResult<Vec<AnyRow>> {
        let persistent = !q.replans();
        let (sql, args) = q.build()?;
        Ok(sqlx::query_with(&sql, args)
            .persistent(persistent)
            .fetch_all(pool)
            .await?)
    }

    pub(in crate::store) async fn fetch_optional(
        &self,
        pool: &AnyPool,
        q: Query,
    ) -> StoreResult<Option<AnyRow>> {
        let persistent = !q.replans();
        let (sql, args) = q.build()?;
        Ok(sqlx::query_with(&sql, args)
            .persistent(persistent)
            .fetch_optional(pool)
            .await?)
    }

    /// The `n` column of a `SELECT COUNT(*) AS n …` (0 if no row).
    pub(in crate::store) async fn count_rows(&self, q: Query) -> StoreResult<i64> {
        Ok(match self.fetch_optional(&self.read, q).await? {
            Some(row) => row.try_get("n")?,
            None => 0,
        })
    }

    pub(in crate::store) async fn execute(&self, q: Query) -> StoreResult<u64> {
        let (sql, args) = q.build()?;
        Ok(sqlx::query_with(&sql, args)
            .execute(&self.write)
            .await
            .map_err(conflict_as_typed)?
            .rows_affected())
    }

    pub(in crate::store) async fn get_one<T>(
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
    pub(in crate::store) async fn list<T>(
        &self,
        cols: &str,
        table: &str,
        filters: &(dyn Fn(&mut Query) + Sync),
        page: &PageQuery,
        map: fn(&AnyRow) -> StoreResult<T>,
        id_of: fn(&T) -> &str,
    ) -> StoreResult<Page<T>> {
        let count = if page.no_count {
            0
        } else {
            self.count_capped(table, filters).await?
        };

        let limit = page.limit.clamp(1, 250);
        let (cursor, going_back) = match (&page.next, &page.prev) {
            (Some(n), _) => (Some(n.as_str()), false),
            (None, Some(p)) => (Some(p.as_str()), true),
            (None, None) => (None, false),
        };
        let desc = page.dir == Direction::Desc;
        // Going back over a descending list reads ascending from the cursor, then flips.
        let read_desc = desc != going_back;
        let (cmp, dir) = if read_desc {
            (" < ", " DESC")
        } else {
            (" > ", " ASC")
        };
        let sort = page.order_by.map(SortColumn::sql);
        let mut q = Query::new(&match sort {
            Some(expr) => format!("SELECT {cols}, {expr} AS sort_key FROM {table} WHERE 1 = 1"),
            None => format!("SELECT {cols} FROM {table} WHERE 1 = 1"),
        });
        filters(&mut q);
        q.plan_each_call();
        match (cursor, sort) {
            (None, _) => {}
            (Some(c), None) => {
                q.push(" AND id").push(cmp).bind(c.to_owned());
            }
            (Some(c), Some(expr)) => {
                let (key, id) = parse_cursor(c)?;
                // Row values compare lexicographically: the sort key, then the id.
                q.push(" AND (")
                    .push(expr)
                    .push(", id)")
                    .push(cmp)
                    .push("(")
                    .bind(key)
                    .push(", ")
                    .bind(id.to_owned())
                    .push(")");
            }
        }
        match sort {
            Some(expr) => q
                .push(" ORDER BY ")
                .push(expr)
                .push(dir)
                .push(", id")
                .push(dir),
            None => q.push(" ORDER BY id").push(dir),
        };
        q.push(" LIMIT ").bind(limit + 1);
        let rows = self.fetch_all(&self.read, q).await?;
        let mut models = Vec::with_capacity(rows.len());
        for row in &rows {
            let m = map(row)?;
            let c = match sort {
                Some(_) => format!("{}.{}", row.try_get::<i64, _>("sort_key")?, id_of(&m)),
                None => id_of(&m).to_owned(),
            };
            models.push((m, c));
        }
        let has_more = models.len() as i64 > limit;
        models.truncate(limit as usize);
        if going_back {
            models.reverse();
        }
        let first = models.first().map(|(_, c)| c.clone());
        let last = models.last().map(|(_, c)| c.clone());
        let (next, prev) = match (cursor.is_some(), going_back) {
            (false, _) => (if has_more { last } else { None }, None),
            (true, false) => (if has_more { last } else { None }, first),
            (true, true) => (last, if has_more { first } else { None }),
        };
        Ok(Page {
            models: models.into_iter().map(|(m, _)| m).collect(),
            next,
            prev,
            count,
        })
    }

    /// Up to `limit` matching rows after the id `after`, by id ascending: the
    /// steps of a bulk retry and of its estimate.
    pub(in crate::store) async fn rows_after<T>(
        &self,
        cols: &str,
        table: &str,
        filters: &(dyn Fn(&mut Query) + Sync),
        after: Option<&str>,
        limit: i64,
        map: fn(&AnyRow) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut q = Query::new(&format!("SELECT {cols} FROM {table} WHERE 1 = 1"));
        filters(&mut q);
        if let Some(a) = after {
            q.push(" AND id > ").bind(a.to_owned());
        }
        q.push(" ORDER BY id LIMIT ").bind(limit);
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(map)
            .collect()
    }

    /// How many rows of `table` match, counting at most [`COUNT_CAP`] of them.
    pub(in crate::store) async fn count_capped(
        &self,
        table: &str,
        filters: &(dyn Fn(&mut Query) + Sync),
    ) -> StoreResult<i64> {
        let mut q = Query::new(&format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {table} WHERE 1 = 1"
        ));
        filters(&mut q);
        q.push(" LIMIT ").bind(COUNT_CAP).push(") AS capped");
        q.plan_each_call();
        self.count_rows(q).await
    }
}

/// A `<sort key>.<id>` cursor.
fn parse_cursor(c: &str) -> StoreResult<(i64, &str)> {
    c.split_once('.')
        .and_then(|(k, id)| Some((k.parse().ok()?, id)))
        .ok_or_else(|| StoreError::InvalidCursor(c.to_owned()))
}

/// Unique-constraint violations become [`StoreError::Conflict`], so the API can say
/// "a source named X already exists" instead of a database error.
pub(in crate::store) fn conflict_as_typed(e: sqlx::Error) -> StoreError {
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

/// The statement that puts a connection in `sync` mode.
pub(super) fn sqlite_pragma(sync: SqliteSync) -> &'static str {
    match sync {
        SqliteSync::Full => "PRAGMA synchronous = FULL",
        SqliteSync::Normal => "PRAGMA synchronous = NORMAL",
    }
}
