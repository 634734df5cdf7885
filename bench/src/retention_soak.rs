//! `hookyard-retention-soak`: does the database stop growing under steady
//! traffic when retention deletes what is past its window?
//!
//! Starts a gateway (SQLite in a temporary directory) with a source connected to
//! a local sink, sends webhooks at a steady rate for `--duration-secs`, and runs
//! the retention job ([`hookyard::retention::Retention`]) on a clock set so that
//! the window is `--window-secs` instead of days. Every `--sample-secs` it prints
//! the database's size (file + WAL) and how many requests are kept. With
//! retention working the size levels off once the first window has passed.

#![allow(clippy::unwrap_used)]

mod loopback;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hookyard::config::{Config, RetentionConfig};
use hookyard::retention::Retention;
use hookyard::signals::Signals;
use hookyard::store::SqliteSync;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "Database size under steady traffic with retention on")]
struct Args {
    /// How long traffic is sent.
    #[arg(long, default_value_t = 240)]
    duration_secs: u64,
    /// Webhooks per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Size of each webhook's body.
    #[arg(long, default_value_t = 2048)]
    body_bytes: usize,
    /// What retention keeps, in seconds (stands in for `retention.days`).
    #[arg(long, default_value_t = 30)]
    window_secs: i64,
    /// How often the size is printed.
    #[arg(long, default_value_t = 15)]
    sample_secs: u64,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Added to the real clock: retention's 1-day window then ends `window` ago.
static SHIFT_MS: AtomicI64 = AtomicI64::new(0);

fn shifted_now() -> i64 {
    hookyard::clock::now_ms() + SHIFT_MS.load(Ordering::Relaxed)
}

fn db_bytes(dir: &std::path::Path) -> u64 {
    ["hookyard.db", "hookyard.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    SHIFT_MS.store(DAY_MS - args.window_secs * 1000, Ordering::Relaxed);
    let dir = tempfile::TempDir::new()?;
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    cfg.sqlite.synchronous = SqliteSync::Normal;
    // The gateway's own job would use the real clock; this one runs below.
    cfg.retention.days = 0;
    let store = hookyard::open_store(&cfg).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (_trigger, shutdown) = hookyard::shutdown::channel();
    let key = "soak-key".to_owned();
    tokio::spawn(hookyard::run(
        cfg.clone(),
        store.clone(),
        key.clone(),
        listener,
        shutdown.clone(),
    ));

    let delivered = Arc::new(AtomicU64::new(0));
    let d = delivered.clone();
    let sink = axum::Router::new().fallback(move || {
        let d = d.clone();
        async move {
            d.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    });
    let sink_url = format!("http://{}/sink", loopback::serve(sink).await?);

    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = client
        .post(format!("{base}/2024-09-01/connections"))
        .bearer_auth(&key)
        .json(
            &serde_json::json!({"name": "soak", "source": {"name": "soak"},
            "destination": {"name": "sink", "url": sink_url}}),
        )
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "connection: {}", r.text().await?);

    // Retention on the gateway's own store (its one SQLite writer), as the
    // gateway's job runs.
    let mut retention = Retention::new(
        store.clone(),
        RetentionConfig {
            days: 1,
            interval_secs: 1,
            batch_size: 500,
        },
        Signals::default(),
    );
    retention.now_ms = shifted_now;
    let deleted = Arc::new(AtomicU64::new(0));
    let del = deleted.clone();
    tokio::spawn(async move {
        loop {
            match retention.step_once().await {
                Ok(p) if p.total() > 0 => {
                    del.fetch_add(p.requests, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(e) => {
                    eprintln!("retention: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });

    let sent = Arc::new(AtomicU64::new(0));
    let body = format!(
        "{{\"pad\":\"{}\"}}",
        "x".repeat(args.body_bytes.saturating_sub(10))
    );
    let started = Instant::now();
    let s = sent.clone();
    let (rate, duration) = (args.rate, Duration::from_secs(args.duration_secs));
    let url = format!("{base}/e/soak");
    let c = client.clone();
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
        while started.elapsed() < duration {
            tick.tick().await;
            let (c, url, body, s) = (c.clone(), url.clone(), body.clone(), s.clone());
            tokio::spawn(async move {
                if let Ok(r) = c.post(url).body(body).send().await {
                    if r.status().is_success() {
                        s.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });

    println!(
        "rate {rate}/s, body {} B, window {} s, retention batch 500",
        args.body_bytes, args.window_secs
    );
    println!("| t (s) | accepted | delivered | requests deleted | database + WAL (MiB) |");
    println!("|---:|---:|---:|---:|---:|");
    while !sender.is_finished() {
        tokio::time::sleep(Duration::from_secs(args.sample_secs)).await;
        println!(
            "| {} | {} | {} | {} | {:.1} |",
            started.elapsed().as_secs(),
            sent.load(Ordering::Relaxed),
            delivered.load(Ordering::Relaxed),
            deleted.load(Ordering::Relaxed),
            db_bytes(dir.path()) as f64 / (1024.0 * 1024.0)
        );
    }
    Ok(())
}
