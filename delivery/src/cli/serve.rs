//! `hookyard serve`: loads the configuration, opens the store, binds the
//! listener and runs the gateway until SIGINT or SIGTERM.

use std::path::Path;

use rand::distributions::{Alphanumeric, DistString};

use super::args::ServeArgs;
use crate::config::{Config, Overrides};

/// The API key from the configuration, or the one kept in the data directory, or a
/// new one (kept there, readable by its owner only).
fn api_key(cfg: &Config) -> anyhow::Result<(String, bool)> {
    if !cfg.api_key.is_empty() {
        return Ok((cfg.api_key.clone(), false));
    }
    let path = cfg.data_dir.join("api_key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let key = existing.trim().to_owned();
        if !key.is_empty() {
            return Ok((key, false));
        }
    }
    crate::private_files::create_dir(&cfg.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", cfg.data_dir.display()))?;
    let key = format!(
        "hky_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    );
    write_private(&path, &key)?;
    Ok((key, true))
}

/// Writes `contents` to `path`, readable by its owner only.
pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    crate::private_files::write(path, contents.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
    };
    let cfg = Config::load(args.config.as_deref(), &overrides)?;
    let store = crate::open_store(&cfg).await?;
    let (key, generated) = api_key(&cfg)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let db = if cfg.database_url.is_empty() {
        format!("SQLite in {}", cfg.data_dir.display())
    } else {
        "PostgreSQL".to_owned()
    };
    println!("Hookyard listening on http://{addr} ({db})");
    println!("  dashboard: http://{addr}/  (sign in with the API key)");
    println!("  webhooks:  http://{addr}/e/<source-name>");
    println!("  API:       http://{addr}/{}", crate::api::API_VERSION);
    if generated {
        println!(
            "  API key:   {key}  (generated; kept in {})",
            cfg.data_dir.join("api_key").display()
        );
    } else if cfg.api_key.is_empty() {
        println!("  API key:   in {}", cfg.data_dir.join("api_key").display());
    }

    let (trigger, shutdown) = crate::shutdown::channel();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        trigger.trigger();
    });
    crate::run(cfg, store, key, listener, shutdown).await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
