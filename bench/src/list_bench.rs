//! `hookyard-list-bench`: how fast the lists a person pages through answer on a
//! large store (issue 12's target: ≤ 50 ms p95 with 1,000,000 events and
//! requests, on SQLite and PostgreSQL).
//!
//! Seeds `--rows` requests and as many events straight into a fresh database
//! (SQL set operations: seeding through the gateway would take longer than the
//! measurement), spread over 30 days, 20 destinations and 5 sources, with the
//! statuses and response statuses of a gateway whose destinations mostly work.
//! Then starts the gateway on it and times `GET` of each list through the API
//! over loopback, as a client sees it: the first page and, for each list, pages
//! followed through `next` cursors deep into it. Prints p50/p95/max per list.

#![allow(clippy::unwrap_used)]

mod seed;

use std::time::{Duration, Instant};

use clap::Parser;
use hookyard::config::Config;
use hookyard::store::SqliteSync;
use sqlx::Executor;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "List latency on a large store")]
struct Args {
    /// `postgres://…` for PostgreSQL (a database of its own: it is emptied);
    /// SQLite in a temporary directory if absent.
    #[arg(long)]
    database_url: Option<String>,
    /// Requests, and events, to seed.
    #[arg(long, default_value_t = 1_000_000)]
    rows: i64,
    /// Timed calls per first-page list.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Pages followed through `next` per deep-paging list.
    #[arg(long, default_value_t = 60)]
    depth: usize,
}

const KEY: &str = "bench-key";
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Newest row's time: 2026-11-30T00:00:00Z; rows go back 30 days from it.
const T_END: i64 = 1_796_083_200_000;

/// Seeds with one statement per table: a recursive series on SQLite,
/// `generate_series` on PostgreSQL; ids `req_`/`evt_` plus the zero-padded
/// row number, so they sort by time as real ids do.
fn seed_sql(postgres: bool, rows: i64) -> Vec<String> {
    let span = 30 * DAY_MS;
    let series = seed::number_series(postgres, rows);
    let pad = |prefix: &str, col: &str| {
        if postgres {
            format!("'{prefix}_' || lpad({col}::text, 10, '0')")
        } else {
            format!("'{prefix}_' || substr('0000000000' || {col}, -10, 10)")
        }
    };
    let blob = if postgres {
        "convert_to('{\"type\":\"order.created\",\"n\":' || i || ',\"note\":\"a webhook of a realistic size, give or take\"}', 'UTF8')"
    } else {
        "CAST('{\"type\":\"order.created\",\"n\":' || i || ',\"note\":\"a webhook of a realistic size, give or take\"}' AS BLOB)"
    };
    let t = format!("({T_END} - {span} + i * {span} / {rows})");
    let far = T_END + 365 * DAY_MS;
    let req = pad("req", "i");
    let evt = pad("evt", "i");
    vec![
        format!(
            "INSERT INTO requests (id, source_id, method, path, query, headers, body, body_size, \
             verified, rejection_cause, events_count, ignored_count, routed, received_at, \
             created_at, updated_at) \
             SELECT {req}, 'src_' || (i % 5), 'POST', '/', '', \
             '[[\"content-type\",\"application/json\"]]', {blob}, 96, NULL, NULL, 1, 0, 1, \
             {t}, {t}, {t} FROM ({series}) AS s"
        ),
        // 90% SUCCESSFUL (200), 6% FAILED (500), 2% FAILED (404), 2% SCHEDULED far ahead.
        format!(
            "INSERT INTO events (id, request_id, connection_id, source_id, destination_id, status, \
             attempts, next_attempt_at, next_trigger, last_attempt_at, response_status, \
             error_code, successful_at, created_at, updated_at) \
             SELECT {evt}, {req}, 'web_' || (i % 20), 'src_' || (i % 5), 'des_' || (i % 20), \
             CASE WHEN i % 50 < 45 THEN 'SUCCESSFUL' WHEN i % 50 < 49 THEN 'FAILED' \
                  ELSE 'SCHEDULED' END, \
             CASE WHEN i % 50 < 45 THEN 1 ELSE 3 END, \
             CASE WHEN i % 50 = 49 THEN {far} ELSE NULL END, 'AUTOMATIC', \
             {t} + 1000, \
             CASE WHEN i % 50 < 45 THEN 200 WHEN i % 50 < 48 THEN 500 WHEN i % 50 < 49 THEN 404 \
                  ELSE 503 END, \
             NULL, CASE WHEN i % 50 < 45 THEN {t} + 1000 ELSE NULL END, {t}, {t} \
             FROM ({series}) AS s"
        ),
    ]
}

async fn seed(url: &str, postgres: bool, rows: i64) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    for stmt in seed_sql(postgres, rows) {
        pool.execute(stmt.as_str()).await?;
    }
    // Planner statistics, as a database that has been running a while has them.
    pool.execute("ANALYZE").await?;
    pool.close().await;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

struct Client {
    http: reqwest::Client,
    api: String,
}

impl Client {
    /// One timed GET; the page's `next` cursor and model count.
    async fn get(&self, path: &str) -> anyhow::Result<(Duration, Option<String>, usize, i64)> {
        let start = Instant::now();
        let resp = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(KEY)
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await?;
        let took = start.elapsed();
        anyhow::ensure!(status.is_success(), "GET {path}: {status} {body}");
        let next = body["pagination"]["next"].as_str().map(str::to_owned);
        let n = body["models"].as_array().map_or(0, Vec::len);
        Ok((took, next, n, body["count"].as_i64().unwrap_or(-1)))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::TempDir::new()?;
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    cfg.sqlite.synchronous = SqliteSync::Normal;
    cfg.retention.days = 0;
    let postgres = args.database_url.is_some();
    if let Some(url) = &args.database_url {
        // A database of its own: start from nothing.
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        pool.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            .await?;
        pool.close().await;
        cfg.database_url = url.clone();
    }
    // Migrates, then lets go of the database while it is seeded.
    drop(hookyard::open_store(&cfg).await?);
    let t = Instant::now();
    seed(&cfg.database_url(), postgres, args.rows).await?;
    println!(
        "seeded {} requests and {} events in {:.1} s ({})",
        args.rows,
        args.rows,
        t.elapsed().as_secs_f64(),
        if postgres { "PostgreSQL" } else { "SQLite" }
    );

    let store = hookyard::open_store(&cfg).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (_trigger, shutdown) = hookyard::shutdown::channel();
    tokio::spawn(hookyard::run(cfg, store, KEY.into(), listener, shutdown));
    let client = Client {
        http: reqwest::Client::new(),
        api: format!("{base}/2024-09-01"),
    };
    // Up and answering.
    for _ in 0..100 {
        if client.get("/sources?limit=1").await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let day = |d: i64| {
        chrono::DateTime::from_timestamp_millis(T_END - d * DAY_MS)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            .replace('+', "%2B")
    };
    let lists: Vec<(&str, String)> = vec![
        ("events, newest first", "/events".into()),
        ("events by status", "/events?status=FAILED".into()),
        (
            "events by destination",
            "/events?destination_id=des_7".into(),
        ),
        (
            "events by response status",
            "/events?response_status=404".into(),
        ),
        (
            "events by response status range",
            "/events?response_status%5Bgte%5D=500&response_status%5Blte%5D=599".into(),
        ),
        (
            "events in one day, 10 days ago",
            format!(
                "/events?created_at%5Bgte%5D={}&created_at%5Blt%5D={}",
                day(11),
                day(10)
            ),
        ),
        (
            "events by destination and status",
            "/events?destination_id=des_5&status=FAILED".into(),
        ),
        (
            "events by last attempt",
            "/events?order_by=last_attempt_at".into(),
        ),
        ("requests, newest first", "/requests".into()),
        ("requests by source", "/requests?source_id=src_2".into()),
        (
            "requests in one day, 20 days ago",
            format!(
                "/requests?ingested_at%5Bgte%5D={}&ingested_at%5Blt%5D={}",
                day(21),
                day(20)
            ),
        ),
    ];
    println!(
        "| list | first page p50 / p95 / max (ms) | {} pages deep p50 / p95 / max (ms) | count |",
        args.depth
    );
    println!("|---|---|---|---|");
    for (name, path) in &lists {
        let sep = if path.contains('?') { '&' } else { '?' };
        // Warm: the first call reads pages from disk.
        client.get(path).await?;
        let mut first = Vec::with_capacity(args.samples);
        let mut count = 0;
        for _ in 0..args.samples {
            let (d, _, n, c) = client.get(path).await?;
            anyhow::ensure!(n > 0, "{path}: an empty page (the seed should match)");
            count = c;
            first.push(d);
        }
        let mut deep = Vec::with_capacity(args.depth);
        let mut next: Option<String> = None;
        for _ in 0..args.depth {
            let url = match &next {
                Some(c) => format!("{path}{sep}next={}", urlencode(c)),
                None => path.clone(),
            };
            let (d, n_next, _, _) = client.get(&url).await?;
            deep.push(d);
            match n_next {
                Some(c) => next = Some(c),
                None => break,
            }
        }
        first.sort();
        deep.sort();
        println!(
            "| {name} (`{path}`) | {} / {} / {} | {} / {} / {} | {count} |",
            ms(percentile(&first, 0.5)),
            ms(percentile(&first, 0.95)),
            ms(*first.last().unwrap()),
            ms(percentile(&deep, 0.5)),
            ms(percentile(&deep, 0.95)),
            ms(*deep.last().unwrap()),
        );
    }

    // The dashboard's charts: one answer per range, whatever the store holds.
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            .replace('+', "%2B")
    };
    let windows = [
        ("last hour, by minute", 3_600_000, "minute"),
        ("last 24 hours, by hour", DAY_MS, "hour"),
        ("last 7 days, by hour", 7 * DAY_MS, "hour"),
        ("last 30 days, by day", 30 * DAY_MS, "day"),
    ];
    println!();
    println!("| metrics range (`/metrics/events`) | events in range | p50 / p95 / max (ms) |");
    println!("|---|---|---|");
    for (name, span, granularity) in windows {
        let path = format!(
            "/metrics/events?start={}&end={}&granularity={granularity}",
            at(T_END - span),
            at(T_END)
        );
        client.get(&path).await?;
        let mut took = Vec::with_capacity(args.samples);
        for _ in 0..args.samples {
            took.push(client.get(&path).await?.0);
        }
        took.sort();
        println!(
            "| {name} | ~{} | {} / {} / {} |",
            args.rows * span / (30 * DAY_MS),
            ms(percentile(&took, 0.5)),
            ms(percentile(&took, 0.95)),
            ms(*took.last().unwrap()),
        );
    }
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
