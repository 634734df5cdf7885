//! The publish API's rate: `POST /publish` one event per call, and
//! `POST /publish/batch` many per call, from concurrent producers with a
//! publish key, against a real `hookyard serve` (SQLite, every answered event
//! committed). Events go to a `MOCK_API` destination, so delivery runs too but
//! costs no network. Prints calls/s, events/s and call latency p50/p99.

mod process;

use process::{free_port, Kill};

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::Mutex;

#[derive(Parser, Debug)]
#[command(about = "Publish API rate (single and batched) against hookyard serve")]
struct Args {
    /// The `hookyard` binary [default: target/release/hookyard, else target/debug/hookyard].
    #[arg(long)]
    hookyard: Option<String>,
    /// Events published in each phase.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Concurrent producers (keep-alive connections).
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Events per call in the batched phase.
    #[arg(long, default_value_t = 100)]
    batch: usize,
}

const KEY: &str = "bench-key";

/// One phase: `calls` calls of `per_call` events from `concurrency` producers.
async fn phase(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    calls: usize,
    per_call: usize,
    concurrency: usize,
) -> Result<(Duration, Histogram<u64>)> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, key) = (http.clone(), url.to_owned(), key.to_owned());
        let (next, hist) = (next.clone(), hist.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= calls {
                    return Ok::<_, anyhow::Error>(());
                }
                let event = |n: usize| {
                    json!({"source": "producers", "topic": format!("order.{}", n % 8),
                           "data": {"order": n, "total": 4200, "currency": "EUR", "lines": [1, 2, 3]}})
                };
                let body = if per_call == 1 {
                    event(i)
                } else {
                    json!({"events": (0..per_call).map(|j| event(i * per_call + j)).collect::<Vec<_>>()})
                };
                let t = Instant::now();
                let resp = http.post(&url).bearer_auth(&key).json(&body).send().await?;
                let status = resp.status();
                let v: Value = resp.json().await?;
                if !status.is_success() || v["failed_count"].as_u64().unwrap_or(0) > 0 {
                    bail!("publish failed: {status} {v}");
                }
                hist.lock().await.record(t.elapsed().as_micros() as u64)?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed();
    let h = hist.lock().await.clone();
    Ok((elapsed, h))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let bin = args.hookyard.clone().unwrap_or_else(|| {
        if std::path::Path::new("target/release/hookyard").exists() {
            "target/release/hookyard".into()
        } else {
            "target/debug/hookyard".into()
        }
    });
    let dir = tempfile::TempDir::new()?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let _serve = Kill(
        Command::new(&bin)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path())
            .env("HOOKYARD_API_KEY", KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {bin} serve"))?,
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let api = format!("{base}/2024-09-01");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        if Instant::now() > deadline {
            bail!("{bin} serve did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let setup = |path: &str, body: Value| {
        http.post(format!("{api}{path}"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
    };
    let conn = setup(
        "/connections",
        json!({"name": "sink", "source": {"name": "producers"},
               "destination": {"name": "mock", "type": "MOCK_API"}, "topics": ["order.*"]}),
    )
    .await?;
    if !conn.status().is_success() {
        bail!("connection: {}", conn.text().await?);
    }
    let key: Value = setup("/publish-keys", json!({"name": "bench"}))
        .await?
        .json()
        .await?;
    let key = key["key"].as_str().context("publish key")?.to_owned();

    println!(
        "publish API, {} producers, {} events per phase, hookyard serve on SQLite (synchronous=full)",
        args.concurrency, args.events
    );
    println!("| call | events/call | calls/s | events/s | call p50 | call p99 |");
    println!("|---|---|---|---|---|---|");
    // A short warm-up so both phases meet a running gateway.
    phase(
        &http,
        &format!("{api}/publish"),
        &key,
        500,
        1,
        args.concurrency,
    )
    .await?;
    for (path, per_call) in [("/publish", 1), ("/publish/batch", args.batch)] {
        let calls = args.events / per_call;
        let (took, h) = phase(
            &http,
            &format!("{api}{path}"),
            &key,
            calls,
            per_call,
            args.concurrency,
        )
        .await?;
        let secs = took.as_secs_f64();
        println!(
            "| `POST {path}` | {per_call} | {:.0} | {:.0} | {:.2} ms | {:.2} ms |",
            calls as f64 / secs,
            (calls * per_call) as f64 / secs,
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
        );
    }
    Ok(())
}
