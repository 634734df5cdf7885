//! The destination the end-to-end phase delivers to, for `--destination`: the
//! loopback HTTP sink, or a broker on this machine (RabbitMQ, NATS JetStream,
//! Redis Streams) or on moto (SQS, EventBridge), set up empty for the run.

use anyhow::Context as _;
use serde_json::{json, Value};

/// The brokers' addresses on this machine.
const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const NATS: &str = "nats://127.0.0.1:4222";
const REDIS: &str = "redis://127.0.0.1:6379";
/// Shaped like AWS keys; moto accepts any.
const AWS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The `destination` object of the bench's connection (type, config or url).
pub async fn destination(
    kind: &str,
    name: &str,
    sink_url: &str,
    aws_endpoint: Option<&str>,
) -> anyhow::Result<Value> {
    let queue = format!("hookyard-bench-{name}");
    Ok(match kind {
        "http" => json!({"name": name, "url": sink_url}),
        "mock" => json!({"name": name, "type": "MOCK_API"}),
        "rabbitmq" => {
            let conn = lapin::Connection::connect(AMQP, Default::default())
                .await
                .context("RabbitMQ on 127.0.0.1:5672")?;
            let ch = conn.create_channel().await?;
            ch.queue_declare(
                queue.as_str().into(),
                lapin::options::QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await?;
            let _ = conn.close(200, "set up".into()).await;
            json!({"name": name, "type": "RABBITMQ",
                   "config": {"url": AMQP, "exchange": "", "routing_key": queue}})
        }
        "nats" => {
            let client = async_nats::connect(NATS)
                .await
                .context("NATS on 127.0.0.1:4222")?;
            let js = async_nats::jetstream::new(client);
            let stream = format!("HOOKYARD_BENCH_{}", name.replace('-', "_").to_uppercase());
            let subject = format!("hookyard.bench.{}", name.replace('-', "_"));
            js.create_stream(async_nats::jetstream::stream::Config {
                name: stream,
                subjects: vec![subject.clone()],
                max_age: std::time::Duration::from_secs(3600),
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("creating the JetStream stream: {e}"))?;
            json!({"name": name, "type": "NATS", "config": {"url": NATS, "subject": subject}})
        }
        "redis" => {
            redis::Client::open(REDIS)?
                .get_multiplexed_async_connection()
                .await
                .context("Redis on 127.0.0.1:6379")?;
            json!({"name": name, "type": "REDIS_STREAM",
                   "config": {"url": REDIS, "stream": queue, "maxlen": 1_000_000}})
        }
        "sqs" | "eventbridge" => {
            let endpoint = aws_endpoint
                .context("--aws-endpoint-url is needed for SQS and EventBridge (e.g. moto)")?;
            let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                    AWS_KEY_ID, AWS_SECRET, None, None, "bench",
                ))
                .load()
                .await;
            let access = json!({"region": "us-east-1", "endpoint_url": endpoint,
                                "access_key_id": AWS_KEY_ID, "secret_access_key": AWS_SECRET});
            let mut config = access.as_object().cloned().unwrap_or_default();
            if kind == "sqs" {
                let url = aws_sdk_sqs::Client::new(&cfg)
                    .create_queue()
                    .queue_name(&queue)
                    .send()
                    .await?
                    .queue_url
                    .context("no queue URL")?;
                config.insert("queue_url".into(), url.into());
                json!({"name": name, "type": "AWS_SQS", "config": config})
            } else {
                aws_sdk_eventbridge::Client::new(&cfg)
                    .create_event_bus()
                    .name(&queue)
                    .send()
                    .await?;
                config.insert("event_bus_name".into(), queue.into());
                json!({"name": name, "type": "AWS_EVENTBRIDGE", "config": config})
            }
        }
        other => anyhow::bail!(
            "--destination {other:?}: one of http, mock, rabbitmq, nats, redis, sqs, eventbridge"
        ),
    })
}

/// Events delivered so far, summed over destinations, from the gateway's `/metrics`.
pub async fn delivered(client: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("hookyard_events_delivered_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}
