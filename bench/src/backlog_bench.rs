//! `hookyard-backlog-bench`: a gateway with a million events waiting for a
//! retry (issue 17's target "A million waiting": RSS ≤ 150 MB, restart to the
//! first due delivery ≤ 2 s, due retries start within 50 ms p99 of their due
//! time, and nothing periodic scans the backlog).
//!
//! 1. A real `hookyard serve` (SQLite in a temporary data directory, or
//!    `--database-url` PostgreSQL) creates `--destinations` HTTP destinations,
//!    each with its own source and connection, through the REST API, pointed at
//!    a sink in this process that answers 200 and notes when each event arrives
//!    (by its `x-hookyard-event-id`). Then it is stopped.
//! 2. `--events` events (each with its own request) are seeded straight into the
//!    database with set operations, all `SCHEDULED` after a failed attempt and
//!    due 1 to 6 hours ahead, spread over the destinations.
//! 3. Just before the restart, `--overdue` of them are made due already and
//!    `--due` more due at known times, spread over `--due-span-secs` starting
//!    `--lead-secs` after the restart.
//! 4. `hookyard serve` starts again on that database. Measured: spawn to the
//!    first delivery at the sink; for each due event, its lateness (arrival at
//!    the sink − its `next_attempt_at`); the gateway's RSS (VmRSS sampled every
//!    100 ms, VmHWM at the end) and its CPU time, while the stream is delivered
//!    and then while idle (`--idle-secs`: what the periodic tasks cost with the
//!    backlog in place).
//!
//! Times are wall-clock milliseconds on this one machine, for the gateway and
//! the sink alike.

#![allow(clippy::unwrap_used)]

mod loopback;
mod process;
mod seed;
mod serve;

use serve::{cpu_time, rss_mib, Serve};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use clap::Parser;
use serde_json::{json, Value};
use sqlx::Executor;
use tokio::sync::Notify;

#[derive(Parser, Debug)]
#[command(
    about = "Restart, due-time lateness and RSS of hookyard serve with a large retry backlog"
)]
struct Args {
    /// The `hookyard` binary [default: target/release/hookyard, else target/debug/hookyard].
    #[arg(long)]
    hookyard: Option<String>,
    /// `postgres://…` for PostgreSQL (a database of its own: it is emptied);
    /// SQLite in a temporary data directory if absent.
    #[arg(long)]
    database_url: Option<String>,
    /// Events waiting for a retry (each with its own request).
    #[arg(long, default_value_t = 1_000_000)]
    events: i64,
    /// HTTP destinations (each with a source and a connection); events are
    /// spread over them evenly.
    #[arg(long, default_value_t = 1000)]
    destinations: i64,
    /// Events made due at known times after the restart (the measured stream).
    #[arg(long, default_value_t = 2000)]
    due: i64,
    /// The stream's due times are spread evenly over this many seconds…
    #[arg(long, default_value_t = 20)]
    due_span_secs: i64,
    /// …starting this many seconds after the gateway is spawned.
    #[arg(long, default_value_t = 5)]
    lead_secs: i64,
    /// Events already due when the gateway starts (restart to first delivery).
    #[arg(long, default_value_t = 100)]
    overdue: i64,
    /// After the stream: seconds of idle measured (CPU of the periodic tasks).
    #[arg(long, default_value_t = 10)]
    idle_secs: u64,
    /// Keep the SQLite data directory at this path (created; must not exist)
    /// instead of a temporary one, e.g. to run `EXPLAIN QUERY PLAN` on it.
    #[arg(long)]
    keep: Option<PathBuf>,
}

const KEY: &str = "bench-key";
const HOUR_MS: i64 = 3_600_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Wall-clock now in fractional milliseconds (arrival times).
fn now_ms_f() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

// ---------------------------------------------------------------------------
// The sink: notes when each event arrives.

#[derive(Default)]
struct Sink {
    /// (event id, arrival in wall-clock ms), in arrival order.
    arrivals: Mutex<Vec<(String, f64)>>,
    first: Notify,
}

async fn start_sink() -> Result<(String, Arc<Sink>)> {
    let sink = Arc::new(Sink::default());
    let s = sink.clone();
    let app = axum::Router::new().fallback(move |headers: http::HeaderMap| {
        let s = s.clone();
        async move {
            let at = now_ms_f();
            let id = headers
                .get("x-hookyard-event-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let mut a = s.arrivals.lock().unwrap();
            a.push((id, at));
            if a.len() == 1 {
                s.first.notify_one();
            }
            "ok"
        }
    });
    let url = format!("http://{}", loopback::serve(app).await?);
    Ok((url, sink))
}

// ---------------------------------------------------------------------------
// Seeding.

/// Ids of one destination's chain, created through the API.
struct Chain {
    source: String,
    destination: String,
    connection: String,
}

async fn create_chains(
    http: &reqwest::Client,
    base: &str,
    sink: &str,
    n: i64,
) -> Result<Vec<Chain>> {
    let mut chains = Vec::with_capacity(n as usize);
    let url = format!("{base}/2024-09-01/connections");
    // A few at a time: the store has one writer.
    for chunk_start in (0..n).step_by(8) {
        let mut calls = Vec::new();
        for k in chunk_start..(chunk_start + 8).min(n) {
            let body = json!({
                "name": format!("backlog-{k}"),
                "source": {"name": format!("backlog-src-{k}")},
                "destination": {"name": format!("backlog-dst-{k}"), "url": format!("{sink}/d/{k}")},
            });
            let req = http.post(&url).bearer_auth(KEY).json(&body).send();
            calls.push(req);
        }
        for call in calls {
            let resp = call.await.context("POST /connections")?;
            let status = resp.status();
            let v: Value = resp.json().await?;
            ensure!(status.is_success(), "POST /connections: {status} {v}");
            let id = |p: &str| -> Result<String> {
                let s = v
                    .pointer(p)
                    .and_then(Value::as_str)
                    .with_context(|| format!("no {p} in {v}"))?;
                ensure!(
                    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "unexpected id {s:?}"
                );
                Ok(s.to_owned())
            };
            chains.push(Chain {
                source: id("/source/id")?,
                destination: id("/destination/id")?,
                connection: id("/id")?,
            });
        }
    }
    Ok(chains)
}

/// The time part of an id (a ULID's first 10 characters, lowercase Crockford
/// base32, as the gateway writes them) for `ms`.
fn ulid_time(ms: i64) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    (0..10)
        .rev()
        .map(|k| ALPHABET[((ms as u64 >> (5 * k)) & 31) as usize] as char)
        .collect()
}

/// Seeded ids, as SQL: the prefix, the seed's time part, then the row number
/// zero-padded to the 16 characters of a ULID's random part. Well-formed ids
/// that sort as the row number does (and date from the seed, as retention reads
/// them).
fn id_sql(postgres: bool, prefix: &str, time: &str, col: &str) -> String {
    if postgres {
        format!("'{prefix}_{time}' || lpad({col}::text, 16, '0')")
    } else {
        format!("'{prefix}_{time}' || substr('0000000000000000' || {col}, -16, 16)")
    }
}

fn id_of(prefix: &str, time: &str, i: i64) -> String {
    format!("{prefix}_{time}{i:016}")
}

/// The row number of a seeded id.
fn row_of(id: &str) -> Option<i64> {
    id.get(14..)?.parse().ok()
}

/// The statements that seed `rows` requests and events (`bench_map` holds each
/// destination's chain by `k`); event `i` goes to chain `i % destinations`.
fn seed_sql(postgres: bool, rows: i64, destinations: i64, t0: i64, time: &str) -> Vec<String> {
    let series = seed::number_series(postgres, rows);
    let blob = if postgres {
        "convert_to('{\"type\":\"order.created\",\"n\":' || i || ',\"note\":\"a webhook of a realistic size, give or take\"}', 'UTF8')"
    } else {
        "CAST('{\"type\":\"order.created\",\"n\":' || i || ',\"note\":\"a webhook of a realistic size, give or take\"}' AS BLOB)"
    };
    // Received over the hour before the seed; first attempt a second later.
    let created = format!("({t0} - {HOUR_MS} + i * {HOUR_MS} / {rows})");
    // Retries due 1 to 6 hours after the seed.
    let due = format!("({t0} + {HOUR_MS} + i * {} / {rows})", 5 * HOUR_MS);
    let req = id_sql(postgres, "req", time, "i");
    let evt = id_sql(postgres, "evt", time, "i");
    vec![
        format!(
            "INSERT INTO requests (id, source_id, method, path, query, headers, body, body_size, \
             verified, rejection_cause, events_count, ignored_count, routed, received_at, \
             created_at, updated_at) \
             SELECT {req}, m.source_id, 'POST', '/', '', \
             '[[\"content-type\",\"application/json\"]]', {blob}, 96, NULL, NULL, 1, 0, 1, \
             {created}, {created}, {created} \
             FROM ({series}) AS s JOIN bench_map m ON m.k = s.i % {destinations}"
        ),
        format!(
            "INSERT INTO events (id, request_id, connection_id, source_id, destination_id, status, \
             attempts, next_attempt_at, next_trigger, last_attempt_at, response_status, \
             error_code, successful_at, created_at, updated_at) \
             SELECT {evt}, {req}, m.connection_id, m.source_id, m.destination_id, 'SCHEDULED', \
             1 + i % 3, {due}, 'AUTOMATIC', {created} + 1000, 503, NULL, NULL, \
             {created}, {created} + 1000 \
             FROM ({series}) AS s JOIN bench_map m ON m.k = s.i % {destinations}"
        ),
    ]
}

async fn connect(url: &str) -> Result<sqlx::AnyPool> {
    sqlx::any::install_default_drivers();
    Ok(sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?)
}

async fn seed(url: &str, postgres: bool, args: &Args, chains: &[Chain], time: &str) -> Result<()> {
    let pool = connect(url).await?;
    if !postgres {
        // The bench's own connection: a large cache for building the indexes.
        pool.execute("PRAGMA cache_size = -262144").await?;
        pool.execute("PRAGMA synchronous = OFF").await?;
    }
    pool.execute(
        "CREATE TABLE bench_map (k BIGINT PRIMARY KEY, source_id TEXT NOT NULL, \
         destination_id TEXT NOT NULL, connection_id TEXT NOT NULL)",
    )
    .await?;
    let values: Vec<String> = chains
        .iter()
        .enumerate()
        .map(|(k, c)| {
            format!(
                "({k}, '{}', '{}', '{}')",
                c.source, c.destination, c.connection
            )
        })
        .collect();
    pool.execute(
        format!(
            "INSERT INTO bench_map (k, source_id, destination_id, connection_id) VALUES {}",
            values.join(", ")
        )
        .as_str(),
    )
    .await?;
    for stmt in seed_sql(postgres, args.events, args.destinations, now_ms(), time) {
        pool.execute(stmt.as_str()).await?;
    }
    pool.execute("DROP TABLE bench_map").await?;
    if postgres {
        // Autovacuum would analyze tables this size soon after; do it now.
        pool.execute("ANALYZE").await?;
    } else {
        // The gateway never runs ANALYZE on SQLite: no statistics, as in the field.
        pool.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    }
    pool.close().await;
    Ok(())
}

/// Makes events 1..=due due at `start + (i - 1) * span / due` and the next
/// `overdue` ones due a minute ago.
async fn make_due(url: &str, postgres: bool, args: &Args, start: i64, time: &str) -> Result<()> {
    let pool = connect(url).await?;
    let num = if postgres {
        "CAST(substr(id, 15) AS BIGINT)"
    } else {
        "CAST(substr(id, 15) AS INTEGER)"
    };
    let span = args.due_span_secs * 1000;
    let due = args.due;
    pool.execute(
        format!(
            "UPDATE events SET next_attempt_at = {start} + ({num} - 1) * {span} / {due} \
             WHERE id BETWEEN '{}' AND '{}'",
            id_of("evt", time, 1),
            id_of("evt", time, due)
        )
        .as_str(),
    )
    .await?;
    if args.overdue > 0 {
        pool.execute(
            format!(
                "UPDATE events SET next_attempt_at = {} WHERE id BETWEEN '{}' AND '{}'",
                now_ms() - 60_000,
                id_of("evt", time, due + 1),
                id_of("evt", time, due + args.overdue)
            )
            .as_str(),
        )
        .await?;
    }
    pool.close().await;
    Ok(())
}

/// When event `i` is due, for the events the bench made due.
fn due_at(args: &Args, start: i64, i: i64) -> Option<i64> {
    if (1..=args.due).contains(&i) {
        Some(start + (i - 1) * args.due_span_secs * 1000 / args.due)
    } else {
        None
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.due + args.overdue <= args.events,
        "--due + --overdue must not exceed --events"
    );
    ensure!(
        args.destinations >= 1 && args.due >= 1,
        "--destinations and --due must be at least 1"
    );
    let bin = args.hookyard.clone().unwrap_or_else(|| {
        if std::path::Path::new("target/release/hookyard").exists() {
            "target/release/hookyard".into()
        } else {
            "target/debug/hookyard".into()
        }
    });
    let tmp = tempfile::TempDir::new()?;
    let data = match &args.keep {
        Some(p) => {
            std::fs::create_dir(p).with_context(|| format!("--keep {}", p.display()))?;
            p.clone()
        }
        None => tmp.path().join("data"),
    };
    let postgres = args.database_url.is_some();
    let db_url = match &args.database_url {
        Some(url) => {
            let pool = connect(url).await?;
            pool.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                .await?;
            pool.close().await;
            url.clone()
        }
        None => format!("sqlite://{}", data.join("hookyard.db").display()),
    };
    let http = reqwest::Client::new();
    let (sink_url, sink) = start_sink().await?;

    // 1. Migrations and the destinations, through a first gateway.
    let t = Instant::now();
    let mut serve = Serve::spawn(
        &bin,
        &data,
        args.database_url.as_deref(),
        KEY,
        &[],
        tmp.path().join("serve-setup.log"),
    )?;
    serve.wait_healthy(&http).await?;
    let chains = create_chains(&http, &serve.base, &sink_url, args.destinations).await?;
    serve.stop().await?;
    println!(
        "created {} destinations, sources and connections in {:.1} s",
        chains.len(),
        t.elapsed().as_secs_f64()
    );

    // 2. The backlog.
    let t = Instant::now();
    // Ids date from an hour before the seed, as the events' creation times do.
    let time = ulid_time(now_ms() - HOUR_MS);
    seed(&db_url, postgres, &args, &chains, &time).await?;
    println!(
        "seeded {} requests and {} SCHEDULED events in {:.1} s ({})",
        args.events,
        args.events,
        t.elapsed().as_secs_f64(),
        if postgres { "PostgreSQL" } else { "SQLite" }
    );

    // 3. The stream, due from `lead` after the spawn.
    let start = now_ms() + args.lead_secs * 1000;
    make_due(&db_url, postgres, &args, start, &time).await?;

    // 4. The restart.
    let spawned_ms = now_ms_f();
    let spawned = Instant::now();
    let mut serve = Serve::spawn(
        &bin,
        &data,
        args.database_url.as_deref(),
        KEY,
        &[],
        tmp.path().join("serve.log"),
    )?;
    let pid = serve.pid();
    let samples: Arc<Mutex<Vec<f64>>> = Arc::default();
    let sampler = {
        let samples = samples.clone();
        tokio::spawn(async move {
            while let Some((rss, _)) = rss_mib(pid) {
                samples.lock().unwrap().push(rss);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    serve.wait_healthy(&http).await?;
    let healthy = spawned.elapsed();
    let expected = (args.due + args.overdue) as usize;
    if args.overdue > 0 {
        tokio::time::timeout(Duration::from_secs(60), sink.first.notified())
            .await
            .ok();
    }
    // The stream, and a little after its end for stragglers.
    let end = start + args.due_span_secs * 1000 + 5000;
    let deadline = Instant::now() + Duration::from_millis((end - now_ms()).max(0) as u64);
    while Instant::now() < deadline && sink.arrivals.lock().unwrap().len() < expected {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu_stream = cpu_time(pid).unwrap_or_default();
    let stream_wall = spawned.elapsed();
    let (rss_stream, _) = rss_mib(pid).unwrap_or_default();

    // Idle with the backlog in place: what the periodic tasks cost.
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let cpu_idle = cpu_time(pid).unwrap_or_default().saturating_sub(cpu_stream);
    let (rss_end, hwm) = rss_mib(pid).unwrap_or_default();
    let rss_max = samples.lock().unwrap().iter().copied().fold(0.0, f64::max);
    serve.stop().await?;
    sampler.abort();

    // Figures.
    let arrivals = sink.arrivals.lock().unwrap().clone();
    let mut late: Vec<f64> = Vec::new();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let mut unexpected = 0usize;
    let mut first_due: Option<f64> = None;
    for (id, at) in &arrivals {
        let i = row_of(id).unwrap_or(0);
        *seen.entry(i).or_default() += 1;
        if seen[&i] > 1 {
            continue;
        }
        if i > args.due && i <= args.due + args.overdue {
            first_due = Some(first_due.map_or(*at, |f: f64| f.min(*at)));
        } else if let Some(due) = due_at(&args, start, i) {
            late.push(at - due as f64);
            first_due = Some(first_due.map_or(*at, |f: f64| f.min(*at)));
        } else {
            unexpected += 1;
        }
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    let delivered = seen.len() - unexpected;
    late.sort_by(|a, b| a.total_cmp(b));

    println!();
    println!(
        "backlog: {} events on {} destinations ({}); stream: {} due over {} s from {} s after spawn, {} overdue at spawn",
        args.events,
        args.destinations,
        if postgres { "PostgreSQL" } else { "SQLite" },
        args.due,
        args.due_span_secs,
        args.lead_secs,
        args.overdue
    );
    println!("| figure | measured | target |");
    println!("|---|---|---|");
    println!(
        "| spawn → /healthz answers | {:.0} ms | |",
        healthy.as_secs_f64() * 1000.0
    );
    match first_due {
        Some(f) if args.overdue > 0 => println!(
            "| spawn → first due delivery at the sink | {:.0} ms | ≤ 2000 ms |",
            f - spawned_ms
        ),
        _ => println!("| spawn → first due delivery at the sink | none | ≤ 2000 ms |"),
    }
    if late.is_empty() {
        println!("| lateness of due retries | none delivered | p99 ≤ 50 ms |");
    } else {
        println!(
            "| lateness of due retries (arrival − next_attempt_at) p50 / p99 / max | {:.1} / {:.1} / {:.1} ms ({} of {}) | p99 ≤ 50 ms |",
            percentile(&late, 0.5),
            percentile(&late, 0.99),
            late.last().unwrap(),
            late.len(),
            args.due
        );
    }
    println!("| RSS peak (VmHWM) | {hwm:.1} MiB | ≤ 150 MB |");
    println!(
        "| RSS sampled max / after the stream / at the end | {rss_max:.1} / {rss_stream:.1} / {rss_end:.1} MiB | |"
    );
    println!(
        "| gateway CPU, spawn → end of stream | {:.2} s in {:.1} s | |",
        cpu_stream.as_secs_f64(),
        stream_wall.as_secs_f64()
    );
    println!(
        "| gateway CPU while idle with the backlog | {:.2} s in {} s ({:.1}% of a core) | |",
        cpu_idle.as_secs_f64(),
        args.idle_secs,
        cpu_idle.as_secs_f64() * 100.0 / args.idle_secs.max(1) as f64
    );
    println!(
        "| delivered / expected, duplicates, not due but delivered | {delivered} / {expected}, {duplicates}, {unexpected} | |"
    );
    if delivered < expected {
        println!(
            "(missing deliveries: see the gateway's log){}",
            serve_log_tail(&tmp)
        );
    }
    Ok(())
}

fn serve_log_tail(tmp: &tempfile::TempDir) -> String {
    let text = std::fs::read_to_string(tmp.path().join("serve.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!("\n{}", lines[lines.len().saturating_sub(20)..].join("\n"))
}
