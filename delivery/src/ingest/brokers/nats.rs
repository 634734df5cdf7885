//! `NATS` sources: a JetStream durable pull consumer (created when missing,
//! explicit acknowledgements), read as a stream of pulls. A message's dedup key
//! is its `Nats-Msg-Id` header when it has one (the publisher's own id), else
//! its place in the stream; its topic is its subject.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::{self, AckKind};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt};

use super::{token, AckToken, BrokerError, BrokerMessage, Consumer};
use crate::model::NatsSourceConfig;

/// How long one receive waits for a first message.
const POLL: Duration = Duration::from_secs(2);
/// Unacknowledged this long, a message goes to another consumer.
const ACK_WAIT: Duration = Duration::from_secs(30);

pub struct NatsConsumer {
    client: async_nats::Client,
    messages: pull::Stream,
}

fn err(code: &'static str, what: &str, e: impl std::fmt::Display) -> BrokerError {
    BrokerError::new(code, format!("NATS: {what}: {e}"))
}

/// Connects and opens the durable consumer (`hookyard-<source id>` unless the
/// config names one), creating it on the stream when it does not exist.
pub async fn connect(
    c: &NatsSourceConfig,
    source_id: &str,
    timeout: Duration,
) -> Result<NatsConsumer, BrokerError> {
    let servers: Vec<&str> = c.url.split(',').map(str::trim).collect();
    let client = async_nats::ConnectOptions::new()
        .name(concat!("hookyard/", env!("CARGO_PKG_VERSION")))
        .connection_timeout(timeout)
        .connect(servers.as_slice())
        .await
        .map_err(|e| {
            use async_nats::ConnectErrorKind as K;
            let code = match e.kind() {
                K::Authentication | K::AuthorizationViolation => "PERMISSION_DENIED",
                K::TimedOut => "TIMEOUT",
                K::Dns => "DNS_LOOKUP_FAILED",
                _ => "CONNECTION_REFUSED",
            };
            err(code, "connecting", e)
        })?;
    let mut js = jetstream::new(client.clone());
    js.set_timeout(timeout);
    let stream = js.get_stream(&c.stream).await.map_err(|e| {
        use async_nats::jetstream::context::GetStreamErrorKind as K;
        let code = match e.kind() {
            K::JetStream(_) => "NOT_FOUND",
            _ => "TIMEOUT",
        };
        err(code, &format!("stream {:?}", c.stream), e)
    })?;
    let durable = c
        .durable
        .clone()
        .unwrap_or_else(|| format!("hookyard-{source_id}"));
    let config = pull::Config {
        durable_name: Some(durable.clone()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        filter_subject: c.subject.clone().unwrap_or_default(),
        ..Default::default()
    };
    let consumer = stream
        .get_or_create_consumer(&durable, config)
        .await
        .map_err(|e| err("BROKER_REFUSED", &format!("consumer {durable:?}"), e))?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(super::driver::BATCH * 2)
        // A silent server is noticed after two missed heartbeats.
        .heartbeat(Duration::from_secs(2))
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .map_err(|e| err("BROKER_ERROR", "pulling", e))?;
    Ok(NatsConsumer { client, messages })
}

fn message(m: jetstream::Message) -> (BrokerMessage, AckToken) {
    let place = m
        .info()
        .map(|i| format!("{}:{}", i.stream, i.stream_sequence))
        .ok();
    let (m, acker) = m.split();
    let mut out = BrokerMessage {
        topic: Some(m.subject.to_string()),
        body: m.payload.to_vec(),
        ..Default::default()
    };
    if let Some(h) = &m.headers {
        for (name, values) in h.iter() {
            for v in values {
                out.headers
                    .push((name.to_string().to_ascii_lowercase(), v.as_str().to_owned()));
            }
        }
        out.headers.sort();
        out.dedup_key = h.get("Nats-Msg-Id").map(|v| v.as_str().to_owned());
    }
    if out.dedup_key.is_none() {
        out.dedup_key = place;
    }
    (out, Box::new(acker))
}

#[async_trait]
impl Consumer for NatsConsumer {
    async fn receive(&mut self, max: usize) -> Result<Vec<(BrokerMessage, AckToken)>, BrokerError> {
        let first = match tokio::time::timeout(POLL, self.messages.next()).await {
            Err(_) => return Ok(Vec::new()),
            Ok(None) => return Err(BrokerError::new("SOCKET_CLOSED", "NATS ended the pull")),
            Ok(Some(m)) => m.map_err(|e| err("BROKER_ERROR", "pulling", e))?,
        };
        let mut out = vec![message(first)];
        while out.len() < max {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(m))) => out.push(message(m)),
                Some(Some(Err(e))) => return Err(err("BROKER_ERROR", "pulling", e)),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn ack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError> {
        for acker in tokens
            .into_iter()
            .filter_map(token::<jetstream::message::Acker>)
        {
            acker
                .ack()
                .await
                .map_err(|e| err("SOCKET_CLOSED", "acknowledging", e))?;
        }
        // The acks are buffered by the client: sent before this returns.
        self.client
            .flush()
            .await
            .map_err(|e| err("SOCKET_CLOSED", "acknowledging", e))
    }

    async fn nack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError> {
        for acker in tokens
            .into_iter()
            .filter_map(token::<jetstream::message::Acker>)
        {
            acker
                .ack_with(AckKind::Nak(None))
                .await
                .map_err(|e| err("SOCKET_CLOSED", "giving back", e))?;
        }
        Ok(())
    }
}
