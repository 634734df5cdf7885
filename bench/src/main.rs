//! `hookyard-bench`: load for a gateway on loopback. Starts a gateway (SQLite in a
//! temporary directory, or `--database-url postgres://…`) and a local sink, then
//! prints:
//! - ingest: requests/s accepted and latency percentiles, for a source with no
//!   connection (only the store-and-acknowledge path);
//! - end to end: events/s from the first request sent to the last delivery seen by
//!   the sink, for a source connected to the sink;
//! - the CPU time each phase took, and the peak resident set.
//!
//! The gateway runs in this process by default, or with `--hookyard <binary>` as
//! a `hookyard serve` child process (an external load generator: this process is
//! then only the load generator and the sink, and the gateway's CPU time and
//! resident set are read alone from `/proc`). Either way everything shares this
//! machine's cores.

mod loopback;
mod process;
mod serve;
mod targets;

use serve::{cpu_time, rss_mib, Serve};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use hdrhistogram::Histogram;
use hookyard::config::Config;
use hookyard::shutdown::ShutdownTrigger;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

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
    /// Run the gateway as `<HOOKYARD> serve` in a process of its own (fresh
    /// temporary data directory, free loopback port) instead of in this one.
    #[arg(long, value_name = "HOOKYARD")]
    hookyard: Option<String>,
}

const KEY: &str = "bench-key";

/// The gateway under load.
enum Gateway {
    /// In this process: its figures include the load generator's and the sink's cost.
    InProcess {
        trigger: ShutdownTrigger,
        task: JoinHandle<anyhow::Result<()>>,
    },
    /// A `hookyard serve` child; its resident set sampled every 100 ms.
    Child {
        serve: Serve,
        rss_max_kib: Arc<AtomicU64>,
        sampler: JoinHandle<()>,
    },
}

impl Gateway {
    /// Starts the gateway on `data` (or PostgreSQL); returns it and its base URL.
    async fn start(args: &Args, data: &std::path::Path) -> anyhow::Result<(Self, String)> {
        let Some(bin) = &args.hookyard else {
            let mut cfg = Config {
                data_dir: data.to_path_buf(),
                ..Config::default()
            };
            cfg.sqlite.synchronous = args.sqlite_sync.parse().map_err(anyhow::Error::msg)?;
            if let Some(url) = &args.database_url {
                cfg.database_url = url.clone();
            }
            let store = hookyard::open_store(&cfg).await?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            let (trigger, shutdown) = hookyard::shutdown::channel();
            let task = tokio::spawn(hookyard::run(cfg, store, KEY.into(), listener, shutdown));
            return Ok((Gateway::InProcess { trigger, task }, base));
        };
        let mut serve = Serve::spawn(
            bin,
            &data.join("data"),
            args.database_url.as_deref(),
            KEY,
            &[("HOOKYARD_SQLITE__SYNCHRONOUS", args.sqlite_sync.as_str())],
            data.join("serve.log"),
        )?;
        serve.wait_healthy(&reqwest::Client::new()).await?;
        let pid = serve.pid();
        let rss_max_kib = Arc::new(AtomicU64::new(0));
        let max = rss_max_kib.clone();
        let sampler = tokio::spawn(async move {
            while let Some((rss, _)) = rss_mib(pid) {
                max.fetch_max((rss * 1024.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let base = serve.base.clone();
        Ok((
            Gateway::Child {
                serve,
                rss_max_kib,
                sampler,
            },
            base,
        ))
    }

    /// The gateway's own process, when it has one.
    fn pid(&self) -> Option<u32> {
        match self {
            Gateway::InProcess { .. } => None,
            Gateway::Child { serve, .. } => Some(serve.pid()),
        }
    }

    /// Prints the peak resident set, then stops the gateway.
    async fn stop(self) -> anyhow::Result<()> {
        match self {
            Gateway::InProcess { trigger, task } => {
                if let Some((_, hwm)) = rss_mib(std::process::id()) {
                    println!(
                        "peak RSS of this process (gateway + load generator + sink): {hwm:.1} MiB (VmHWM)"
                    );
                }
                trigger.trigger();
                task.await.context("the gateway's task")??;
            }
            Gateway::Child {
                serve,
                rss_max_kib,
                sampler,
            } => {
                let (rss, hwm) = rss_mib(serve.pid()).context("reading the gateway's /proc")?;
                println!(
                    "gateway (hookyard serve) RSS: peak {hwm:.1} MiB (VmHWM); sampled every 100 ms: max {:.1} MiB, now {rss:.1} MiB",
                    rss_max_kib.load(Ordering::Relaxed) as f64 / 1024.0
                );
                sampler.abort();
                serve.stop().await?;
            }
        }
        Ok(())
    }
}

/// `(steal, total)` ticks of the whole machine so far, from `/proc/stat`'s first
/// line. Steal is time the hypervisor gave this VM's cores to someone else; on a
/// shared host it moves a run's figures more than most code changes do.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = cpu
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time
    // is already counted in user and nice.
    let steal = *ticks.get(7)?;
    let total = ticks.iter().take(8).sum();
    Some((steal, total))
}

/// CPU time used so far by the gateway's process (if it has its own) and by
/// this one, at a moment.
struct Cpu {
    at: Instant,
    gateway: Option<Duration>,
    bench: Duration,
    /// `(steal, total)` ticks of the machine.
    machine: Option<(u64, u64)>,
}

impl Cpu {
    fn now(gateway: &Gateway) -> Self {
        Cpu {
            at: Instant::now(),
            gateway: gateway.pid().and_then(cpu_time),
            bench: cpu_time(std::process::id()).unwrap_or_default(),
            machine: machine_ticks(),
        }
    }

    /// Prints the CPU time used since `self`, per process.
    fn report_since(&self, gateway: &Gateway) {
        let now = Cpu::now(gateway);
        let wall = now.at.duration_since(self.at).as_secs_f64();
        let part = |d: Duration| {
            format!(
                "{:.2} s ({:.0}% of a core)",
                d.as_secs_f64(),
                d.as_secs_f64() * 100.0 / wall
            )
        };
        let bench = part(now.bench.saturating_sub(self.bench));
        let steal = match (self.machine, now.machine) {
            (Some((s0, t0)), Some((s1, t1))) if t1 > t0 => format!(
                "; machine: {:.0}% stolen by the hypervisor",
                s1.saturating_sub(s0) as f64 * 100.0 / (t1 - t0) as f64
            ),
            _ => String::new(),
        };
        match (self.gateway, now.gateway) {
            (Some(a), Some(b)) => println!(
                "  CPU over {wall:.2} s: gateway {}; load generator + sink {bench}{steal}",
                part(b.saturating_sub(a))
            ),
            _ => println!(
                "  CPU over {wall:.2} s: this process (gateway + load generator + sink) {bench}{steal}"
            ),
        }
    }
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
    let url = format!("http://{}/sink", loopback::serve(app).await?);
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
    let backend = if args.database_url.is_some() {
        "PostgreSQL".to_owned()
    } else {
        format!("SQLite (synchronous={})", args.sqlite_sync)
    };
    let (gateway, base) = Gateway::start(&args, dir.path()).await?;
    let (sink_url, sink) = start_sink().await?;

    let client = reqwest::Client::new();
    let api = format!("{base}/2024-09-01");
    let run_id = rand::random::<u32>();
    let ingest_source = format!("bench-ingest-{run_id}");
    let e2e_source = format!("bench-e2e-{run_id}");
    api_post(
        &client,
        &format!("{api}/sources"),
        KEY,
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
        KEY,
        serde_json::json!({"name": "bench", "source": {"name": e2e_source},
                           "destination": destination}),
    )
    .await?;

    let filler = "x".repeat(args.body_bytes.saturating_sub(60));
    let body = Arc::new(format!(
        r#"{{"type":"order.created","id":12345,"data":"{filler}"}}"#
    ));
    let process = match gateway.pid() {
        Some(pid) => format!("hookyard serve, pid {pid}"),
        None => "in this process".to_owned(),
    };
    println!(
        "backend {backend}; gateway {process}; {} concurrent senders; {} byte bodies; {} cores",
        args.concurrency,
        body.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    let cpu = Cpu::now(&gateway);
    let r = load(
        &base,
        &format!("/e/{ingest_source}"),
        args.ingest_requests,
        args.concurrency,
        body.clone(),
    )
    .await?;
    report("ingest (no connection)", &r);
    cpu.report_since(&gateway);

    sink.target.store(args.e2e_requests, Ordering::Relaxed);
    let cpu = Cpu::now(&gateway);
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
    cpu.report_since(&gateway);
    gateway.stop().await
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Runtime::new()?.block_on(bench(args))
}
