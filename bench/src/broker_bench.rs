//! Broker sources, end to end: messages/s from a RabbitMQ queue, a Redis stream,
//! a NATS JetStream stream (and an SQS queue on moto, when asked) through a real
//! `hookyard serve` to a loopback HTTP destination.
//!
//! For each broker, with a fresh gateway (its own data directory, SQLite):
//! 1. `--messages` JSON messages of `--size` bytes are published into the broker
//!    first, as a backlog (the publish rate is reported on its own);
//! 2. the broker source and its connection to the sink (an HTTP server in this
//!    process answering 200 and counting requests) are created in one
//!    `POST /connections` with the source inline;
//! 3. the clock runs from that call until the sink has received every message.
//!
//! The source is created inline with its connection, not by `POST /sources` then
//! `POST /connections`: the gateway starts consuming as soon as a broker source
//! exists, and messages committed before the connection exists are routed
//! nowhere (they would never reach the sink).
//!
//! Everything shares this machine's cores: the brokers, the gateway, the sink
//! and the publisher.

mod loopback;
mod process;

use process::{free_port, Kill};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use serde_json::{json, Value};
use tokio::sync::Notify;

#[derive(Parser, Debug)]
#[command(
    about = "Broker sources (RabbitMQ, Redis Streams, NATS JetStream, SQS on moto) \
                   to a loopback HTTP destination, end to end, against hookyard serve"
)]
struct Args {
    /// The `hookyard` binary [default: target/release/hookyard, else target/debug/hookyard].
    #[arg(long)]
    hookyard: Option<String>,
    /// Brokers to measure, comma-separated: rabbitmq, redis, nats, sqs
    /// [default: rabbitmq,redis,nats, and sqs when --sqs-endpoint or --moto is given].
    #[arg(long, value_delimiter = ',')]
    brokers: Vec<String>,
    /// Consumers the gateway runs for each source (the source's `consumers`).
    #[arg(long, default_value_t = 1)]
    consumers: u16,
    /// Messages published (as a backlog) and delivered for each broker.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Size of each message's JSON body, in bytes.
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// An SQS-compatible endpoint (moto: `python3 -m moto.server -H 127.0.0.1 -p PORT`).
    #[arg(long)]
    sqs_endpoint: Option<String>,
    /// Start moto (`python3 -m moto.server`) on a free port for the SQS phase.
    #[arg(long, conflicts_with = "sqs_endpoint")]
    moto: bool,
    /// Give up on a broker when the sink has received nothing new for this long.
    #[arg(long, default_value_t = 60)]
    stall_secs: u64,
}

const KEY: &str = "bench-key";
const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const REDIS: &str = "redis://127.0.0.1:6379";
const NATS: &str = "nats://127.0.0.1:4222";
/// Shaped like AWS keys; moto accepts any.
const AWS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOPIC: &str = "bench.load";
/// Publishes whose acknowledgements are awaited together (Redis: one pipeline).
const CHUNK: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Broker {
    RabbitMq,
    Redis,
    Nats,
    Sqs,
}

impl Broker {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "rabbitmq" => Broker::RabbitMq,
            "redis" => Broker::Redis,
            "nats" => Broker::Nats,
            "sqs" => Broker::Sqs,
            other => bail!("--brokers: unknown broker {other:?} (rabbitmq, redis, nats, sqs)"),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Broker::RabbitMq => "rabbitmq",
            Broker::Redis => "redis",
            Broker::Nats => "nats",
            Broker::Sqs => "sqs",
        }
    }

    fn source_type(self) -> &'static str {
        match self {
            Broker::RabbitMq => "RABBITMQ",
            Broker::Redis => "REDIS_STREAM",
            Broker::Nats => "NATS",
            Broker::Sqs => "AWS_SQS",
        }
    }
}

/// Message `i`: a JSON object of `size` bytes (or the least it can be).
fn message(i: usize, size: usize) -> Vec<u8> {
    let head = format!(r#"{{"type":"{TOPIC}","n":{i},"pad":""#);
    let pad = size.saturating_sub(head.len() + 2);
    let mut body = Vec::with_capacity(head.len() + pad + 2);
    body.extend_from_slice(head.as_bytes());
    body.resize(head.len() + pad, b'x');
    body.extend_from_slice(b"\"}");
    body
}

// ---------------------------------------------------------------------------
// The sink: counts the requests it answers.

struct Sink {
    count: AtomicU64,
    target: AtomicU64,
    done: Notify,
}

async fn start_sink() -> Result<(String, Arc<Sink>)> {
    let sink = Arc::new(Sink {
        count: AtomicU64::new(0),
        target: AtomicU64::new(u64::MAX),
        done: Notify::new(),
    });
    let s = sink.clone();
    let app = axum::Router::new().fallback(move |_body: axum::body::Bytes| {
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

// ---------------------------------------------------------------------------
// The gateway: a fresh `hookyard serve` per broker.

struct Gateway {
    child: Kill,
    base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Gateway {
    async fn start(bin: &str, http: &reqwest::Client) -> Result<Self> {
        let dir = tempfile::TempDir::new()?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        let log = dir.path().join("serve.log");
        let out = std::fs::File::create(&log)?;
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let child = Kill(
            Command::new(bin)
                .args([
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(&data)
                .env("HOOKYARD_API_KEY", KEY)
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
                .with_context(|| format!("start {bin} serve"))?,
        );
        let mut gw = Gateway {
            child,
            base,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http
            .get(format!("{}/healthz", gw.base))
            .send()
            .await
            .is_err()
        {
            gw.check_alive()?;
            if Instant::now() > deadline {
                bail!("{bin} serve did not start{}", gw.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(gw)
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.0.try_wait()? {
            bail!("hookyard serve exited ({status}){}", self.log_tail());
        }
        Ok(())
    }

    /// The end of the gateway's log, to show with an error.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("\n--- end of the gateway's log ---\n{tail}")
        }
    }

    /// The gateway's peak resident set (VmHWM), in MiB.
    fn rss_peak_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }
}

async fn api_post(http: &reqwest::Client, url: &str, body: &Value) -> Result<Value> {
    let resp = http
        .post(url)
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("POST {url}: {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("POST {url}: answer {text:?}"))
}

// ---------------------------------------------------------------------------
// The brokers: set up, publish the backlog, clean up.

/// What a broker phase created, to delete at the end.
enum Created {
    RabbitMq {
        queue: String,
    },
    Redis {
        stream: String,
    },
    Nats {
        stream: String,
    },
    Sqs {
        client: aws_sdk_sqs::Client,
        queue_url: String,
    },
}

/// The source's config, what to delete afterwards, and the publish time.
struct Backlog {
    config: Value,
    created: Created,
    publish: Duration,
}

async fn rabbitmq_backlog(args: &Args, suffix: &str) -> Result<Backlog> {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
    use lapin::Confirmation;
    let queue = format!("hookyard-broker-bench-{suffix}");
    let conn = lapin::Connection::connect(AMQP, lapin::ConnectionProperties::default())
        .await
        .context("rabbitmq: RabbitMQ is not reachable at 127.0.0.1:5672")?;
    let ch = conn.create_channel().await.context("rabbitmq: channel")?;
    // Durable, declared before publishing: the backlog waits in it for the gateway.
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        Default::default(),
    )
    .await
    .with_context(|| format!("rabbitmq: declaring queue {queue}"))?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .context("rabbitmq: confirm.select")?;
    let props = lapin::BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2);
    let started = Instant::now();
    let mut confirms = Vec::with_capacity(args.messages);
    for i in 0..args.messages {
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &message(i, args.size),
                props.clone(),
            )
            .await
            .context("rabbitmq: basic.publish")?;
        confirms.push(confirm);
    }
    let mut confirms = confirms.into_iter();
    loop {
        let chunk: Vec<_> = confirms.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        for confirm in chunk {
            match confirm.await.context("rabbitmq: publisher confirm")? {
                Confirmation::Ack(None) => {}
                other => bail!("rabbitmq: a publish was not confirmed: {other:?}"),
            }
        }
    }
    let publish = started.elapsed();
    let _ = conn.close(200, "published".into()).await;
    Ok(Backlog {
        config: json!({"url": AMQP, "queue": queue, "consumers": args.consumers}),
        created: Created::RabbitMq { queue },
        publish,
    })
}

async fn redis_backlog(args: &Args, suffix: &str) -> Result<Backlog> {
    let stream = format!("hookyard-broker-bench-{suffix}");
    let mut con = redis::Client::open(REDIS)?
        .get_multiplexed_async_connection()
        .await
        .context("redis: Redis is not reachable at 127.0.0.1:6379")?;
    let started = Instant::now();
    let mut i = 0;
    while i < args.messages {
        let mut pipe = redis::pipe();
        for n in i..(i + CHUNK).min(args.messages) {
            pipe.cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("body")
                .arg(message(n, args.size))
                .arg("topic")
                .arg(TOPIC)
                .ignore();
        }
        pipe.query_async::<()>(&mut con)
            .await
            .with_context(|| format!("redis: XADD to {stream}"))?;
        i += CHUNK;
    }
    Ok(Backlog {
        config: json!({"url": REDIS, "stream": stream, "consumers": args.consumers}),
        created: Created::Redis { stream },
        publish: started.elapsed(),
    })
}

async fn nats_backlog(args: &Args, suffix: &str) -> Result<Backlog> {
    let client = async_nats::connect(NATS)
        .await
        .context("nats: NATS is not reachable at 127.0.0.1:4222")?;
    let js = async_nats::jetstream::new(client);
    let stream = format!("HOOKYARD_BROKER_BENCH_{}", suffix.to_uppercase());
    let prefix = format!("hookyard.broker-bench.{suffix}");
    js.create_stream(async_nats::jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("{prefix}.>")],
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow!("nats: creating the JetStream stream {stream}: {e}"))?;
    let subject = format!("{prefix}.load");
    let started = Instant::now();
    let mut i = 0;
    while i < args.messages {
        let mut acks = Vec::with_capacity(CHUNK);
        for n in i..(i + CHUNK).min(args.messages) {
            let ack = js
                .publish(subject.clone(), message(n, args.size).into())
                .await
                .map_err(|e| anyhow!("nats: publishing to {subject}: {e}"))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await
                .map_err(|e| anyhow!("nats: publish acknowledgement: {e}"))?;
        }
        i += CHUNK;
    }
    Ok(Backlog {
        config: json!({"url": NATS, "stream": stream, "consumers": args.consumers}),
        created: Created::Nats { stream },
        publish: started.elapsed(),
    })
}

async fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            AWS_KEY_ID, AWS_SECRET, None, None, "bench",
        ))
        .load()
        .await;
    aws_sdk_sqs::Client::new(&cfg)
}

async fn sqs_backlog(args: &Args, suffix: &str, endpoint: &str) -> Result<Backlog> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let client = sqs_client(endpoint).await;
    let queue = format!("hookyard-broker-bench-{suffix}");
    let queue_url = client
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .with_context(|| format!("sqs: creating queue {queue} at {endpoint} (is it reachable?)"))?
        .queue_url
        .context("sqs: no queue URL")?;
    // SendMessageBatch takes 10; a few calls at once, as one call is a round trip.
    const SENDERS: usize = 16;
    let batches = args.messages.div_ceil(10);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (client, queue_url, next) = (client.clone(), queue_url.clone(), next.clone());
        let (messages, size) = (args.messages, args.size);
        tasks.spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    return Ok::<_, anyhow::Error>(());
                }
                let mut call = client.send_message_batch().queue_url(&queue_url);
                for n in b * 10..(b * 10 + 10).min(messages) {
                    let body = String::from_utf8(message(n, size))?;
                    call = call.entries(
                        SendMessageBatchRequestEntry::builder()
                            .id(n.to_string())
                            .message_body(body)
                            .build()?,
                    );
                }
                let out = call.send().await.context("sqs: SendMessageBatch")?;
                if let Some(f) = out.failed().first() {
                    bail!("sqs: SendMessageBatch refused a message: {f:?}");
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(Backlog {
        config: json!({"queue_url": queue_url, "endpoint_url": endpoint, "region": "us-east-1",
                       "access_key_id": AWS_KEY_ID, "secret_access_key": AWS_SECRET,
                       "consumers": args.consumers}),
        created: Created::Sqs { client, queue_url },
        publish: started.elapsed(),
    })
}

/// Deletes what the phase created (the gateway's consumer group, durable
/// consumer… go with it).
async fn clean_up(created: Created) -> Result<()> {
    match created {
        Created::RabbitMq { queue } => {
            let conn =
                lapin::Connection::connect(AMQP, lapin::ConnectionProperties::default()).await?;
            let ch = conn.create_channel().await?;
            ch.queue_delete(queue.as_str().into(), Default::default())
                .await?;
            let _ = conn.close(200, "cleaned up".into()).await;
        }
        Created::Redis { stream } => {
            let mut con = redis::Client::open(REDIS)?
                .get_multiplexed_async_connection()
                .await?;
            redis::cmd("DEL")
                .arg(&stream)
                .query_async::<()>(&mut con)
                .await?;
        }
        Created::Nats { stream } => {
            let js = async_nats::jetstream::new(async_nats::connect(NATS).await?);
            js.delete_stream(&stream)
                .await
                .map_err(|e| anyhow!("deleting stream {stream}: {e}"))?;
        }
        Created::Sqs { client, queue_url } => {
            client.delete_queue().queue_url(&queue_url).send().await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// One broker's phase.

struct Figures {
    publish: Duration,
    end_to_end: Duration,
    received: u64,
    rss_peak_mib: Option<f64>,
}

/// Creates the source with its connection on a fresh gateway and waits for the
/// sink to have received `messages` requests.
async fn deliver(
    args: &Args,
    bin: &str,
    http: &reqwest::Client,
    broker: Broker,
    suffix: &str,
    source_config: &Value,
) -> Result<(Duration, u64, Option<f64>)> {
    let (sink_url, sink) = start_sink().await?;
    let target = args.messages as u64;
    sink.target.store(target, Ordering::Relaxed);
    let mut gw = Gateway::start(bin, http).await?;
    let api = format!("{}/2024-09-01", gw.base);
    let name = broker.name();
    let body = json!({
        "name": format!("bench-{name}"),
        "source": {"name": format!("bench-{name}-{suffix}"), "type": broker.source_type(),
                   "config": source_config},
        "destination": {"name": format!("sink-{name}-{suffix}"), "url": sink_url},
    });
    let started = Instant::now();
    api_post(http, &format!("{api}/connections"), &body)
        .await
        .with_context(|| format!("{name}: creating the source and its connection"))?;
    let stall = Duration::from_secs(args.stall_secs);
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        let got = sink.count.load(Ordering::Relaxed);
        if got >= target {
            break;
        }
        if got != last {
            (last, last_change) = (got, Instant::now());
        } else if last_change.elapsed() > stall {
            bail!(
                "{name}: the sink received {got} of {target} messages, then nothing for {}s{}",
                args.stall_secs,
                gw.log_tail()
            );
        }
        gw.check_alive()
            .with_context(|| format!("{name}: while delivering"))?;
        tokio::select! {
            _ = sink.done.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    let took = started.elapsed();
    let rss = gw.rss_peak_mib();
    // Anything delivered twice arrives within a moment; count it too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok((took, sink.count.load(Ordering::Relaxed), rss))
}

async fn phase(
    args: &Args,
    bin: &str,
    http: &reqwest::Client,
    broker: Broker,
    sqs_endpoint: Option<&str>,
) -> Result<Figures> {
    let suffix = format!("{:08x}", rand::random::<u32>());
    let backlog = match broker {
        Broker::RabbitMq => rabbitmq_backlog(args, &suffix).await?,
        Broker::Redis => redis_backlog(args, &suffix).await?,
        Broker::Nats => nats_backlog(args, &suffix).await?,
        Broker::Sqs => {
            let endpoint = sqs_endpoint.context("sqs: needs --sqs-endpoint URL or --moto")?;
            sqs_backlog(args, &suffix, endpoint).await?
        }
    };
    let delivered = deliver(args, bin, http, broker, &suffix, &backlog.config).await;
    // The gateway is stopped by now (dropped in `deliver`): delete what is left.
    if let Err(e) = clean_up(backlog.created).await {
        eprintln!("{}: cleaning up: {e:#}", broker.name());
    }
    let (end_to_end, received, rss_peak_mib) = delivered?;
    Ok(Figures {
        publish: backlog.publish,
        end_to_end,
        received,
        rss_peak_mib,
    })
}

/// Starts moto on a free port; the endpoint and the process (killed on drop).
async fn start_moto() -> Result<(String, Kill)> {
    let found = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("--moto: running python3")?;
    if !found.success() {
        bail!("--moto: python3 cannot import moto.server (pip install 'moto[server]')");
    }
    let port = free_port()?;
    let child = Kill(
        Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("--moto: starting moto")?,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("--moto: moto did not listen on 127.0.0.1:{port} within 30s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((format!("http://127.0.0.1:{port}"), child))
}

fn default_hookyard() -> String {
    if Path::new("target/release/hookyard").exists() {
        "target/release/hookyard".into()
    } else {
        "target/debug/hookyard".into()
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let bin = args.hookyard.clone().unwrap_or_else(default_hookyard);
    if !Path::new(&bin).exists() {
        bail!(
            "{bin} not found: build it (cargo build --release -p hookyard) or give --hookyard PATH"
        );
    }
    let mut brokers: Vec<Broker> = if args.brokers.is_empty() {
        let mut b = vec![Broker::RabbitMq, Broker::Redis, Broker::Nats];
        if args.sqs_endpoint.is_some() || args.moto {
            b.push(Broker::Sqs);
        }
        b
    } else {
        args.brokers
            .iter()
            .map(|b| Broker::parse(b))
            .collect::<Result<_>>()?
    };
    let mut seen = Vec::new();
    brokers.retain(|b| {
        let first = !seen.contains(b);
        seen.push(*b);
        first
    });
    if brokers.contains(&Broker::Sqs) && args.sqs_endpoint.is_none() && !args.moto {
        bail!("sqs: needs --sqs-endpoint URL (e.g. moto) or --moto");
    }
    if !(1..=64).contains(&args.consumers) {
        bail!("--consumers must be between 1 and 64");
    }
    let (sqs_endpoint, _moto) = match (&args.sqs_endpoint, args.moto) {
        (Some(e), _) => (Some(e.clone()), None),
        (None, true) if brokers.contains(&Broker::Sqs) => {
            let (e, moto) = start_moto().await?;
            (Some(e), Some(moto))
        }
        _ => (None, None),
    };
    let http = reqwest::Client::new();

    println!(
        "broker sources → loopback HTTP destination, end to end: {} messages of {} bytes per broker, \
         {} consumer(s) per source; {bin} serve (SQLite), a fresh gateway per broker; {} cores",
        args.messages,
        message(0, args.size).len(),
        args.consumers,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "publish: the backlog published into the broker first (confirmed); end to end: from \
         creating the source (with its connection) until the sink has received every message"
    );
    println!();
    println!(
        "| broker | messages | consumers | publish msg/s | seconds | msg/s end to end | sink received | gateway RSS peak |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for &broker in &brokers {
        let f = phase(&args, &bin, &http, broker, sqs_endpoint.as_deref()).await?;
        let label = match broker {
            Broker::Sqs => "sqs (moto)",
            b => b.name(),
        };
        println!(
            "| {label} | {} | {} | {:.0} | {:.2} | {:.0} | {} | {} |",
            args.messages,
            args.consumers,
            args.messages as f64 / f.publish.as_secs_f64(),
            f.end_to_end.as_secs_f64(),
            args.messages as f64 / f.end_to_end.as_secs_f64(),
            f.received,
            f.rss_peak_mib
                .map(|m| format!("{m:.0} MiB"))
                .unwrap_or_else(|| "n/a".into()),
        );
    }
    if let Some(e) = &sqs_endpoint {
        if brokers.contains(&Broker::Sqs) {
            println!();
            println!(
                "sqs: measured against moto at {e} (a Python mock of SQS), not Amazon SQS: \
                 the figure is moto's, not SQS's."
            );
        }
    }
    Ok(())
}
