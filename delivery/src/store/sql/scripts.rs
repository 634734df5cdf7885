//! SQLite write scripts: a whole write transaction sent to the one writer as one
//! statement string, and how durable its commit must be.

use sqlx::any::AnyRow;
use sqlx::Executor;

use super::connect::{sqlite_pragma, Store};
use super::dialect::Dialect;
use super::query::Query;
use crate::store::StoreResult;

impl Store {
    /// Runs `script`, a whole write transaction (`BEGIN IMMEDIATE; …; COMMIT`), on
    /// the SQLite writer as one statement string, and returns the rows its
    /// statements produced. sqlx runs each SQLite connection on its own thread and
    /// every statement is a round trip to it (a channel send, a thread wake-up, and
    /// the answer waiting for a busy tokio worker); a transaction of BEGIN, two
    /// statements and COMMIT held the one writer for four of them. One string is
    /// one round trip. (SQLite only: PostgreSQL takes one statement per prepared
    /// query.)
    pub(in crate::store) async fn sqlite_script(
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
        // Not kept prepared: a script's text changes with its row count (a batch
        // of 37 is another statement than one of 38), and the connection's cache
        // of 100 kept each size's compiled program, megabytes of the writer's
        // memory for large batches, for little reuse.
        match sqlx::query_with(&sql, args)
            .persistent(false)
            .fetch_all(&mut **c)
            .await
        {
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
}

impl Store {
    /// The writer connection for a bookkeeping transaction that decides between
    /// its statements (a script cannot): on SQLite, set to commit without its own
    /// fsync ([`Durability::Bookkeeping`]) until [`Bookkeeper::finish`].
    pub(in crate::store) async fn bookkeeper(&self) -> StoreResult<Bookkeeper> {
        let mut conn = ScriptConn(Some(self.write.acquire().await?));
        let restore = match self.dialect {
            Dialect::Sqlite => {
                let c = conn.0.as_mut().expect("connection held until finished");
                c.execute("PRAGMA synchronous = NORMAL").await?;
                Some(sqlite_pragma(self.sqlite_sync))
            }
            Dialect::Postgres => None,
        };
        let begin = match self.dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        };
        let c = conn.0.as_mut().expect("connection held until finished");
        c.execute(begin).await?;
        Ok(Bookkeeper { conn, restore })
    }
}

/// A bookkeeping write transaction in progress on the writer connection. Dropped
/// before [`Bookkeeper::finish`] (an error, or the caller's future cancelled), it
/// closes the connection: the database rolls the transaction back, and no
/// connection left in the relaxed sync mode goes back to the pool.
pub(in crate::store) struct Bookkeeper {
    conn: ScriptConn,
    restore: Option<&'static str>,
}

impl Bookkeeper {
    pub(in crate::store) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        self.conn
            .0
            .as_mut()
            .expect("connection held until finished")
    }

    /// Commits, restores the sync mode and hands the connection back.
    pub(in crate::store) async fn finish(mut self) -> StoreResult<()> {
        let c = self.conn();
        c.execute("COMMIT").await?;
        if let Some(restore) = self.restore {
            let c = self.conn();
            c.execute(restore).await?;
        }
        self.conn.release();
        Ok(())
    }
}

/// How durable a SQLite write script must be when it commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Durability {
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
