//! `REDIS_STREAM` sources: a consumer group (created with the stream when
//! missing, reading the stream from its start) read with `XREADGROUP`, entries
//! acknowledged with `XACK` after their commit.
//!
//! An entry is a request in one of two shapes. With a `body` field (as
//! Hookyard's Redis destination writes them): the body is that field, the
//! headers the JSON object in `headers`, the topic the `topic` field. Without
//! one: the body is the entry's fields as a JSON object. Its dedup key is its
//! `message_id` field (the producer's id for it; `event_id` in entries
//! Hookyard wrote), else its entry id.
//!
//! Entries left pending (this consumer stopped before acknowledging them) are
//! read again first after each connect; those of a consumer that is gone (a
//! replica that died) are claimed after a minute idle.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{AsyncConnectionConfig, Value};

use super::{token, AckToken, BrokerError, BrokerMessage, Consumer};
use crate::destinations::redis_stream::classify;
use crate::model::RedisStreamSourceConfig;

/// How long one `XREADGROUP` blocks for a first entry.
const BLOCK: Duration = Duration::from_secs(2);
/// An entry pending this long on another consumer is taken over.
const CLAIM_IDLE: Duration = Duration::from_secs(60);
/// How often pending entries of gone consumers are looked for.
const CLAIM_EVERY: Duration = Duration::from_secs(30);

pub struct RedisStreamConsumer {
    connection: MultiplexedConnection,
    stream: String,
    group: String,
    name: String,
    /// Read this consumer's own pending entries (id `0`) before new ones.
    pending_first: bool,
    last_claim: Instant,
}

fn error(e: redis::RedisError) -> BrokerError {
    classify(e).into()
}

/// This consumer's name in the group: stable across restarts of this host's
/// gateway, so what it left pending is read again at once.
fn consumer_name(source_id: &str, index: u16) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "hookyard".into());
    format!("hookyard-{host}-{source_id}-{index}")
}

pub async fn connect(
    c: &RedisStreamSourceConfig,
    source_id: &str,
    index: u16,
    timeout: Duration,
) -> Result<RedisStreamConsumer, BrokerError> {
    let client = redis::Client::open(c.url.as_str()).map_err(error)?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(BLOCK + timeout));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(error)?;
    let group = c.group.clone().unwrap_or_else(|| "hookyard".into());
    let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&c.stream)
        .arg(&group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut connection)
        .await;
    match created {
        Ok(()) => {}
        Err(e) if e.code() == Some("BUSYGROUP") => {}
        Err(e) => return Err(error(e)),
    }
    Ok(RedisStreamConsumer {
        connection,
        stream: c.stream.clone(),
        group,
        name: consumer_name(source_id, index),
        pending_first: true,
        last_claim: Instant::now(),
    })
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

fn message(e: StreamId) -> (BrokerMessage, AckToken) {
    let text = |k: &str| {
        e.map
            .get(k)
            .and_then(bytes)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let mut m = BrokerMessage {
        dedup_key: text("message_id")
            .or_else(|| text("event_id"))
            .or_else(|| Some(e.id.clone())),
        topic: text("topic"),
        ..Default::default()
    };
    match e.map.get("body").and_then(bytes) {
        Some(body) => {
            m.body = body;
            if let Some(h) = text("headers") {
                match serde_json::from_str::<HashMap<String, String>>(&h) {
                    Ok(h) => {
                        m.headers = h
                            .into_iter()
                            .map(|(k, v)| (k.to_ascii_lowercase(), v))
                            .collect();
                        m.headers.sort();
                    }
                    Err(err) => {
                        m.invalid = Some(format!(
                            "the `headers` field is not a JSON object of strings: {err}"
                        ))
                    }
                }
            }
        }
        None => {
            let fields: serde_json::Map<String, serde_json::Value> = e
                .map
                .iter()
                .filter_map(|(k, v)| {
                    let b = bytes(v)?;
                    Some((
                        k.clone(),
                        serde_json::Value::String(String::from_utf8_lossy(&b).into_owned()),
                    ))
                })
                .collect();
            m.body = serde_json::Value::Object(fields).to_string().into_bytes();
            m.headers = vec![("content-type".into(), "application/json".into())];
        }
    }
    (m, Box::new(e.id))
}

impl RedisStreamConsumer {
    async fn read(
        &mut self,
        id: &str,
        max: usize,
        block: bool,
    ) -> Result<Vec<StreamId>, BrokerError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.name)
            .arg("COUNT")
            .arg(max);
        if block {
            cmd.arg("BLOCK").arg(BLOCK.as_millis() as u64);
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(id);
        let reply: Option<StreamReadReply> =
            cmd.query_async(&mut self.connection).await.map_err(error)?;
        Ok(reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default())
    }

    /// Takes over entries another consumer left pending for [`CLAIM_IDLE`].
    async fn claim(&mut self, max: usize) -> Result<Vec<StreamId>, BrokerError> {
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&self.stream)
            .arg(&self.group)
            .arg(&self.name)
            .arg(CLAIM_IDLE.as_millis() as u64)
            .arg("0-0")
            .arg(StreamAutoClaimOptions::default().count(max));
        let reply: StreamAutoClaimReply =
            cmd.query_async(&mut self.connection).await.map_err(error)?;
        Ok(reply.claimed)
    }
}

#[async_trait]
impl Consumer for RedisStreamConsumer {
    async fn receive(&mut self, max: usize) -> Result<Vec<(BrokerMessage, AckToken)>, BrokerError> {
        if self.pending_first {
            let pending = self.read("0", max, false).await?;
            if !pending.is_empty() {
                return Ok(pending.into_iter().map(message).collect());
            }
            self.pending_first = false;
        }
        if self.last_claim.elapsed() >= CLAIM_EVERY {
            self.last_claim = Instant::now();
            let claimed = self.claim(max).await?;
            if !claimed.is_empty() {
                return Ok(claimed.into_iter().map(message).collect());
            }
        }
        let new = self.read(">", max, true).await?;
        Ok(new.into_iter().map(message).collect())
    }

    async fn ack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError> {
        let ids: Vec<String> = tokens.into_iter().filter_map(token::<String>).collect();
        if ids.is_empty() {
            return Ok(());
        }
        redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&ids)
            .query_async::<i64>(&mut self.connection)
            .await
            .map_err(error)?;
        Ok(())
    }

    async fn nack(&mut self, _tokens: Vec<AckToken>) -> Result<(), BrokerError> {
        // They stay pending on this consumer: read them again next.
        self.pending_first = true;
        Ok(())
    }
}
