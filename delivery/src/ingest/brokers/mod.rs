//! Broker sources: the gateway consumes a queue or stream (`RABBITMQ`, `NATS`,
//! `AWS_SQS`, `REDIS_STREAM`) and each message becomes a request, committed like
//! a webhook and acknowledged to its broker only after the commit.
//!
//! One file per broker behind [`Consumer`]; the loop that receives, commits and
//! acknowledges is the same for every broker.

use std::any::Any;

use async_trait::async_trait;

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

/// Why a broker could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrokerError {
    /// Not reachable, or the connection was lost: try again.
    #[error("{0}")]
    Unreachable(String),
    /// The broker answered no (no such queue, stream or group; bad credentials):
    /// trying again only helps once someone fixes it.
    #[error("{0}")]
    Refused(String),
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
