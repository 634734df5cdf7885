//! Throwaway PostgreSQL databases: each test gets its own `hy_<random>` database on
//! the server at 127.0.0.1:5432, dropped (best effort) when its [`TestDb`] goes.

use std::time::Duration;

use rand::Rng;
use sqlx::{Connection, Executor, PgConnection};

pub const ADDR: &str = "127.0.0.1:5432";

/// Where test databases are created from: this database must exist.
const ADMIN_DB: &str = "test";

pub struct TestDb {
    /// Url of the fresh database.
    pub url: String,
    admin_url: String,
    name: String,
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Connects to the admin database as `postgres`, else as the current user.
async fn admin() -> Result<(PgConnection, String), String> {
    let mut users = vec!["postgres".to_owned()];
    if let Ok(me) = std::env::var("USER") {
        if !me.is_empty() && me != "postgres" {
            users.push(me);
        }
    }
    let mut errors = Vec::new();
    for user in users {
        let url = format!("postgres://{user}@{ADDR}/{ADMIN_DB}");
        match tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(&url)).await {
            Ok(Ok(conn)) => return Ok((conn, url)),
            Ok(Err(e)) => errors.push(format!("{url}: {e}")),
            Err(_) => errors.push(format!("{url}: timed out")),
        }
    }
    Err(errors.join("; "))
}

impl TestDb {
    /// A fresh database, or `None` when PostgreSQL cannot be reached (outside CI).
    ///
    /// # Panics
    /// When PostgreSQL cannot be reached and `CI=true`, or when the database cannot
    /// be created.
    pub async fn create() -> Option<TestDb> {
        let (mut conn, admin_url) = match admin().await {
            Ok(c) => c,
            Err(why) => {
                if ci() {
                    panic!("PostgreSQL on {ADDR} is required in CI (CI=true): {why}");
                }
                println!(
                    "skipped the PostgreSQL half: PostgreSQL on {ADDR} is not reachable ({why})"
                );
                return None;
            }
        };
        let name = format!("hy_{:016x}", rand::thread_rng().gen::<u64>());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("admin url has a database");
        Some(TestDb {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which must not block on async work:
        // drop the database from a thread with its own runtime. FORCE ends the
        // connections pools of dropped stores may still hold.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let dropped = conn.execute(sql.as_str()).await;
                let _ = conn.close().await;
                dropped.ok()
            })
        });
        let _ = dropper.join();
    }
}
