//! Broker sources: the gateway consumes a queue or stream (`RABBITMQ`, `NATS`,
//! `AWS_SQS`, `REDIS_STREAM`) and each message becomes a request, committed like
//! a webhook and acknowledged to its broker only after the commit.
//!
//! One file per broker behind [`Consumer`]; the loop that receives, commits and
//! acknowledges is the same for every broker ([`driver`]); [`supervisor`] runs
//! one loop per consumer of each enabled broker source, on every replica;
//! [`health`] turns a broker that cannot be read into a `source` issue.

pub mod driver;
pub mod health;
mod nats;
mod rabbitmq;
mod redis_stream;
mod sqs;
pub mod supervisor;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::destinations::{reach, DeliveryResult};
use crate::egress::{redact, EgressPolicy};
use crate::model::{Source, SourceKind};

/// A message taken from a broker, to become one request.
#[derive(Debug, Clone, Default)]
pub struct BrokerMessage {
    /// The broker's stable id for it (a redelivery has the same), to store it
    /// once: RabbitMQ's `message_id`, NATS's `Nats-Msg-Id` or stream sequence,
    /// SQS's `MessageId`, the Redis entry id. `None`: not de-duplicated.
    pub dedup_key: Option<String>,
    /// The broker's own topic for it (routing key, subject, attribute, field).
    pub topic: Option<String>,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Why it cannot become a request (bad encoding…): stored as rejected and
    /// acknowledged, never redelivered forever.
    pub invalid: Option<String>,
}

/// What a broker gives back to acknowledge a message with (a delivery tag, a
/// receipt handle…); only the consumer that made it reads it.
pub type AckToken = Box<dyn Any + Send + Sync>;

/// Why a broker could not be read: a code for the source issue (as attempt
/// errors have: `CONNECTION_REFUSED`, `TIMEOUT`, `NOT_FOUND`,
/// `PERMISSION_DENIED`…) and what the broker or the network said.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BrokerError {
    pub code: &'static str,
    pub message: String,
}

impl BrokerError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        BrokerError {
            code,
            message: redact::urls_in(&message.into()),
        }
    }
}

impl From<DeliveryResult> for BrokerError {
    fn from(r: DeliveryResult) -> Self {
        BrokerError::new(
            r.error_code.unwrap_or("BROKER_ERROR"),
            r.error_message.unwrap_or_default(),
        )
    }
}

/// One consumer of a broker source, connected.
#[async_trait]
pub trait Consumer: Send {
    /// Up to `max` messages, waiting (long polling) until at least one is there
    /// or a few seconds pass (then an empty list).
    async fn receive(&mut self, max: usize) -> Result<Vec<(BrokerMessage, AckToken)>, BrokerError>;
    /// These were committed: the broker may forget them.
    async fn ack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError>;
    /// These were not committed: the broker should deliver them again.
    async fn nack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError>;
}

/// What consumers connect with.
#[derive(Clone)]
pub struct BrokerLimits {
    /// Connecting (and each broker call that is not a long poll) takes at most this.
    pub timeout: Duration,
    /// Broker addresses are checked against it, as destinations' are.
    pub egress: Arc<EgressPolicy>,
}

/// The consumer number `index` (from 0) of a broker source, connected.
pub async fn connect(
    source: &Source,
    index: u16,
    limits: &BrokerLimits,
) -> Result<Box<dyn Consumer>, BrokerError> {
    let t = limits.timeout;
    match &source.kind {
        SourceKind::Webhook => Err(BrokerError::new(
            "NOT_A_BROKER",
            "a WEBHOOK source is not consumed",
        )),
        SourceKind::Rabbitmq(c) => {
            reach::check(&limits.egress, &c.url).await?;
            within(t, "RabbitMQ", rabbitmq::connect(c, &source.id, index)).await
        }
        SourceKind::Nats(c) => {
            for server in c.url.split(',') {
                reach::check(&limits.egress, server.trim()).await?;
            }
            within(t, "NATS", nats::connect(c, &source.id, t)).await
        }
        // The SDK has its own timeouts, and checks the endpoint's egress.
        SourceKind::AwsSqs(c) => Ok(Box::new(sqs::connect(c, limits).await?)),
        SourceKind::RedisStream(c) => {
            reach::check(&limits.egress, &c.url).await?;
            within(t, "Redis", redis_stream::connect(c, &source.id, index, t)).await
        }
    }
}

/// A consumer connected within `timeout`.
async fn within<C: Consumer + 'static>(
    timeout: Duration,
    broker: &str,
    connecting: impl std::future::Future<Output = Result<C, BrokerError>>,
) -> Result<Box<dyn Consumer>, BrokerError> {
    let consumer = in_time(timeout, connecting, || {
        format!("no answer in time connecting to {broker}")
    })
    .await?;
    Ok(Box::new(consumer))
}

/// `call`'s answer if the broker gives it within `timeout`; past it, a
/// `TIMEOUT` error with `message`. Every broker call that is not a long poll
/// goes through here.
async fn in_time<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, BrokerError>>,
    message: impl FnOnce() -> String,
) -> Result<T, BrokerError> {
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or_else(|_| Err(BrokerError::new("TIMEOUT", message())))
}

/// Takes the token back as what its consumer made it from.
fn token<T: 'static>(t: AckToken) -> Option<T> {
    t.downcast::<T>().ok().map(|b| *b)
}
