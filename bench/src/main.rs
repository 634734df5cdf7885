//! `hookyard-bench`: load for a gateway on loopback. Starts a gateway (SQLite in a
//! temporary directory, or `--database-url postgres://…`) and a local sink, then
//! prints:
//! - ingest: requests/s accepted and latency percentiles, for a source with no
//!   connection (only the store-and-acknowledge path);
//! - end to end: events/s from the first request sent to the last delivery seen by
//!   the sink, for a source connected to the sink.
//!
//! Everything shares this machine's cores: the figures include the load
//! generator's own cost.

mod targets;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use hdrhistogram::Histogram;
use hookyard::config::Config;
use tokio::sync::Notify;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "Measure Hookyard's ingest and end-to-end delivery rates on loopback")]
struct Args {
    /// Requests sent in the ingest phase.
    #[arg(long, default_value_t = 100_000)]
    ingest_requests: u64,
    /// Requests sent in the end-to-end phase.
    #[arg(long, default_value_t = 50_000)]
    e2e_requests: u64,
    /// Concurrent senders (each one connection, one request at a time).
    #[arg(long, default_value_t = 64)]
    concurrency: u64,
    /// Size of each webhook's JSON body.
    #[arg(long, default_value_t = 1024)]
    body_bytes: usize,
    /// PostgreSQL instead of SQLite (the database should be empty or disposable).
    #[arg(long)]
    database_url: Option<String>,
    /// SQLite sync mode: full (fsync per commit) or normal.
    #[arg(long, default_value = "full")]
    sqlite_sync: String,
    /// Where the end-to-end phase delivers: http (a loopback sink), mock,
    /// rabbitmq, nats, redis (the services on 127.0.0.1), sqs or eventbridge
    /// (at `--aws-endpoint-url`, e.g. moto).
    #[arg(long, default_value = "http")]
    destination: String,
    /// The AWS endpoint for `--destination sqs|eventbridge`.
    #[arg(long)]
    aws_endpoint_url: Option<String>,
}

struct Sink {
    count: AtomicU64,
    target: AtomicU64,
    done: Notify,
}

async fn start_sink() -> anyhow::Result<(String, Arc<Sink>)> {
    let sink = Arc::new(Sink {
        count: AtomicU64::new(0),
        target: AtomicU64::new(u64::MAX),
        done: Notify::new(),
    });
    let s = sink.clone();
    let app = axum::Router::new().fallback(move || {
        let s = s.clone();
        async move {
            let n = s.count.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= s.target.load(Ordering::Relaxed) {
                s.done.notify_one();
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/sink", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, sink))
}

struct LoadResult {
    elapsed: Duration,
    ok: u64,
    failed: u64,
    latency_us: Histogram<u64>,
    started: Instant,
}

/// One sender: a keep-alive HTTP/1.1 connection, one request at a time. Plain
/// hyper rather than a pooled client, so the load generator takes as little of the
/// shared CPU as it can.
async fn sender(
    addr: std::net::SocketAddr,
    path: String,
    body: Arc<String>,
    next: Arc<AtomicU64>,
    total: u64,
) -> anyhow::Result<(Histogram<u64>, u64, u64)> {
    use http_body_util::{BodyExt, Full};
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut hist = Histogram::<u64>::new(3)?;
    let (mut ok, mut failed) = (0u64, 0u64);
    let payload = bytes::Bytes::from(body.as_bytes().to_vec());
    while next.fetch_add(1, Ordering::Relaxed) < total {
        let t = Instant::now();
        let req = http::Request::post(&path)
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .body(Full::new(payload.clone()))?;
        match send.send_request(req).await {
            Ok(resp) => {
                let success = resp.status().is_success();
                let _ = resp.into_body().collect().await;
                if success {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            Err(_) => {
                failed += 1;
                break;
            }
        }
        let _ = hist.record(t.elapsed().as_micros() as u64);
    }
    Ok((hist, ok, failed))
}

async fn load(
    base: &str,
    path: &str,
    total: u64,
    concurrency: u64,
    body: Arc<String>,
) -> anyhow::Result<LoadResult> {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse()?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(sender(
                addr,
                path.to_owned(),
                body.clone(),
                next.clone(),
                total,
            ))
        })
        .collect();
    let mut latency_us = Histogram::<u64>::new(3)?;
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (h, o, f) = t.await??;
        latency_us.add(h)?;
        ok += o;
        failed += f;
    }
    Ok(LoadResult {
        elapsed: started.elapsed(),
        ok,
        failed,
        latency_us,
        started,
    })
}

fn report(name: &str, r: &LoadResult) {
    let rate = r.ok as f64 / r.elapsed.as_secs_f64();
    println!(
        "{name}: {} accepted, {} failed in {:.2}s = {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.ok,
        r.failed,
        r.elapsed.as_secs_f64(),
        rate,
        r.latency_us.value_at_quantile(0.50) as f64 / 1000.0,
        r.latency_us.value_at_quantile(0.99) as f64 / 1000.0,
        r.latency_us.max() as f64 / 1000.0,
    );
}

async fn api_post(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: serde_json::Value,
) -> anyhow::Result<()> {
    let r = client.post(url).bearer_auth(key).json(&body).send().await?;
    anyhow::ensure!(r.status().is_success(), "{url}: {}", r.text().await?);
    Ok(())
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::TempDir::new()?;
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    cfg.sqlite.synchronous = args.sqlite_sync.parse().map_err(anyhow::Error::msg)?;
    if let Some(url) = &args.database_url {
        cfg.database_url = url.clone();
    }
    let backend = if args.database_url.is_some() {
        "PostgreSQL".to_owned()
    } else {
        format!("SQLite (synchronous={})", args.sqlite_sync)
    };
    let store = hookyard::open_store(&cfg).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let key = "bench-key";
    let (trigger, shutdown) = hookyard::shutdown::channel();
    let gateway = tokio::spawn(hookyard::run(cfg, store, key.into(), listener, shutdown));
    let (sink_url, sink) = start_sink().await?;

    let client = reqwest::Client::new();
    let api = format!("{base}/2024-09-01");
    let run_id = rand::random::<u32>();
    let ingest_source = format!("bench-ingest-{run_id}");
    let e2e_source = format!("bench-e2e-{run_id}");
    api_post(
        &client,
        &format!("{api}/sources"),
        key,
        serde_json::json!({"name": ingest_source}),
    )
    .await?;
    let destination = targets::destination(
        &args.destination,
        &format!("sink-{run_id}"),
        &sink_url,
        args.aws_endpoint_url.as_deref(),
    )
    .await?;
    api_post(
        &client,
        &format!("{api}/connections"),
        key,
        serde_json::json!({"name": "bench", "source": {"name": e2e_source},
                           "destination": destination}),
    )
    .await?;

    let filler = "x".repeat(args.body_bytes.saturating_sub(60));
    let body = Arc::new(format!(
        r#"{{"type":"order.created","id":12345,"data":"{filler}"}}"#
    ));
    println!(
        "backend {backend}; {} concurrent senders; {} byte bodies; {} cores",
        args.concurrency,
        body.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    let r = load(
        &base,
        &format!("/e/{ingest_source}"),
        args.ingest_requests,
        args.concurrency,
        body.clone(),
    )
    .await?;
    report("ingest (no connection)", &r);

    sink.target.store(args.e2e_requests, Ordering::Relaxed);
    let r = load(
        &base,
        &format!("/e/{e2e_source}"),
        args.e2e_requests,
        args.concurrency,
        body,
    )
    .await?;
    report("ingest (with delivery running)", &r);
    let http = args.destination == "http";
    tokio::time::timeout(Duration::from_secs(600), async {
        if http {
            while sink.count.load(Ordering::Relaxed) < args.e2e_requests {
                tokio::select! {
                    _ = sink.done.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        } else {
            // The broker confirmed each one before the gateway counted it.
            while targets::delivered(&client, &base).await.unwrap_or(0) < args.e2e_requests {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    })
    .await
    .context("deliveries did not all arrive within 10 minutes")?;
    let e2e = r.started.elapsed();
    println!(
        "end to end ({} destination): {} events delivered in {:.2}s = {:.0} events/s (first request sent → last delivery received)",
        args.destination,
        args.e2e_requests,
        e2e.as_secs_f64(),
        args.e2e_requests as f64 / e2e.as_secs_f64()
    );

    trigger.trigger();
    let _ = gateway.await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Runtime::new()?.block_on(bench(args))
}
