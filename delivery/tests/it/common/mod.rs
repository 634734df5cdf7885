//! Shared helpers for the delivery integration tests.

#![allow(dead_code)]

/// Writes each test once and runs it against every backend, in turn. The backend's
/// name is printed first, so a failure's captured output says which one failed.
#[macro_export]
macro_rules! conformance {
    ($($name:ident => $body:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            for b in common::backends().await {
                println!("--- {} on {}", stringify!($name), b.name);
                $body(&b).await;
            }
        }
    )*};
}

pub mod brokers;
pub mod gateway;
pub mod pg;
pub mod smtp;
pub mod wasm;

use std::sync::Arc;

use hookyard::store::{SqliteSync, Store};
use tempfile::TempDir;

/// Keeps a backend's database alive for the test; cleans it up when dropped.
pub enum Guard {
    Sqlite(TempDir),
    Postgres(pg::TestDb),
}

/// One store to run a conformance test against.
pub struct Backend {
    /// `"sqlite"` or `"postgres"`.
    pub name: &'static str,
    pub store: Arc<Store>,
    /// The database url, to open more stores on the same database ("replicas").
    pub url: String,
    // Declared last so the store (and its pools) drop before the database goes.
    _guard: Guard,
}

impl Backend {
    pub fn is_postgres(&self) -> bool {
        self.name == "postgres"
    }

    /// Another [`Store`] on the same database, as a second replica would open.
    pub async fn replica(&self) -> Arc<Store> {
        Arc::new(
            Store::connect(&self.url, SqliteSync::Normal)
                .await
                .unwrap_or_else(|e| panic!("cannot open a second {} store: {e}", self.name)),
        )
    }
}

/// A fresh SQLite database and, when the server is there, a fresh PostgreSQL one.
///
/// Without PostgreSQL on 127.0.0.1:5432 this returns SQLite only and says so, except
/// with `CI=true`, where it panics (see [`pg::TestDb::create`]).
pub async fn backends() -> Vec<Backend> {
    let mut out = Vec::with_capacity(2);

    let dir = tempfile::tempdir().expect("temp dir");
    let url = Store::sqlite_url_in(dir.path());
    let store = Store::connect(&url, SqliteSync::Normal)
        .await
        .unwrap_or_else(|e| panic!("cannot open SQLite store {url}: {e}"));
    out.push(Backend {
        name: "sqlite",
        store: Arc::new(store),
        url,
        _guard: Guard::Sqlite(dir),
    });

    if let Some(db) = pg::TestDb::create().await {
        let url = db.url.clone();
        let store = Store::connect(&url, SqliteSync::Normal)
            .await
            .unwrap_or_else(|e| panic!("cannot open PostgreSQL store {url}: {e}"));
        out.push(Backend {
            name: "postgres",
            store: Arc::new(store),
            url,
            _guard: Guard::Postgres(db),
        });
    }
    out
}
