//! What `hookyard listen` adds to a delivery's latency on loopback: one webhook
//! at a time, from the moment it is sent to the gateway until the local server
//! has it, alternately through an HTTP destination straight to the server and
//! through a CLI destination and a `hookyard listen` process. Real processes
//! (`hookyard serve`, `hookyard listen`); prints p50/p90/p99 of both and the
//! difference.

mod loopback;
mod process;

use process::{free_port, Kill};

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

#[derive(Parser, Debug)]
#[command(about = "Added latency of deliveries through `hookyard listen` (loopback)")]
struct Args {
    /// The `hookyard` binary [default: target/release/hookyard, else target/debug/hookyard].
    #[arg(long)]
    hookyard: Option<String>,
    /// Webhooks measured per path (after the warm-up).
    #[arg(long, default_value_t = 2000)]
    events: usize,
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// Then: webhooks sent while no CLI listens, timed from the CLI's start until
    /// all have reached the local server (0: skip).
    #[arg(long, default_value_t = 5000)]
    backlog: usize,
}

const KEY: &str = "bench-key";

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
    let http = reqwest::Client::new();
    wait_for(|| async { http.get(format!("{base}/healthz")).send().await.is_ok() }).await?;

    // The local server: tells the measuring loop when each webhook arrives.
    let (tx, mut arrived) = mpsc::unbounded_channel::<(Bytes, Instant)>();
    let tx = Arc::new(Mutex::new(tx));
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.lock().await.send((body, Instant::now()));
            "ok"
        }
    });
    let target = loopback::serve(app).await?;

    let api = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{base}/2024-09-01{path}"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
    };
    let made = api(
        reqwest::Method::POST,
        "/connections",
        json!({"name": "direct", "source": {"name": "direct"},
            "destination": {"name": "direct", "url": format!("http://{target}/")}}),
    )
    .await?;
    if !made.status().is_success() {
        bail!("creating the HTTP connection: {}", made.text().await?);
    }
    let home = tempfile::TempDir::new()?;
    let port = target.port().to_string();
    let listen = || {
        Command::new(&bin)
            .args([
                "listen", &port, "viacli", "--server", &base, "--name", "bench",
            ])
            .env("HOOKYARD_API_KEY", KEY)
            .env("HOOKYARD_CLI_CONFIG", home.path().join("cli.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start hookyard listen")
    };
    let sessions = || async {
        let r = http
            .get(format!("{base}/2024-09-01/cli/sessions"))
            .bearer_auth(KEY)
            .send()
            .await;
        match r {
            Ok(r) => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v.as_array().map(Vec::len))
                .unwrap_or(0),
            Err(_) => 0,
        }
    };
    let cli = Kill(listen()?);
    wait_for(|| async { sessions().await > 0 }).await?;

    let mut direct = Histogram::<u64>::new(3)?;
    let mut via_cli = Histogram::<u64>::new(3)?;
    for i in 0..(args.warmup + args.events) * 2 {
        let source = if i % 2 == 0 { "direct" } else { "viacli" };
        let body = format!("{{\"n\":{i}}}");
        let sent = Instant::now();
        let resp = http
            .post(format!("{base}/e/{source}"))
            .body(body.clone())
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("webhook {i}: {}", resp.status());
        }
        let at = loop {
            let (got, at) = tokio::time::timeout(Duration::from_secs(10), arrived.recv())
                .await
                .context("a webhook did not arrive within 10 s")?
                .context("the local server stopped")?;
            if got == body.as_bytes() {
                break at;
            }
        };
        if i / 2 >= args.warmup {
            let us = at.duration_since(sent).as_micros() as u64;
            if source == "direct" {
                direct.record(us)?
            } else {
                via_cli.record(us)?
            };
        }
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "listen latency: {} webhooks per path, one at a time, sent → at the local server",
        args.events
    );
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>8}",
        "path", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (name, h) in [
        ("HTTP destination (direct)", &direct),
        ("CLI destination (listen)", &via_cli),
    ] {
        println!(
            "{name:<28} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            ms(h, 0.5),
            ms(h, 0.9),
            ms(h, 0.99),
            h.max() as f64 / 1000.0
        );
    }
    println!(
        "added by listen: p50 {:+.2} ms, p99 {:+.2} ms",
        ms(&via_cli, 0.5) - ms(&direct, 0.5),
        ms(&via_cli, 0.99) - ms(&direct, 0.99)
    );
    if args.backlog == 0 {
        return Ok(());
    }

    // The backlog: the CLI killed, webhooks sent, the CLI started again.
    drop(cli);
    wait_for(|| async { sessions().await == 0 }).await?;
    for i in 0..args.backlog {
        let resp = http
            .post(format!("{base}/e/viacli"))
            .body(format!("b{i}"))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("backlog webhook {i}: {}", resp.status());
        }
    }
    let started = Instant::now();
    let _cli = Kill(listen()?);
    let mut seen = 0;
    while seen < args.backlog {
        let (got, _) = tokio::time::timeout(Duration::from_secs(30), arrived.recv())
            .await
            .context("the backlog stopped arriving")?
            .context("the local server stopped")?;
        if got.starts_with(b"b") {
            seen += 1;
        }
    }
    let took = started.elapsed();
    println!(
        "backlog: {} webhooks waiting while no CLI listened, all delivered {:.2} s after the CLI started ({:.0} events/s, CLI start and set-up included)",
        args.backlog,
        took.as_secs_f64(),
        args.backlog as f64 / took.as_secs_f64()
    );
    Ok(())
}

async fn wait_for<F, Fut>(mut f: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("timed out waiting for the gateway or the CLI")
}
