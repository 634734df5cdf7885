//! Destination types. Each type is one file implementing [`Adapter`]; adding a type
//! means its config in `model::destination_types`, its file here, and one line in
//! [`Adapters::for_destination`]. Every type goes through the same dispatch
//! (limits, retries, issues, auto-disable): an adapter only sends one message and
//! says what happened.

pub mod aws;
pub mod cli;
pub mod confined;
pub mod eventbridge;
pub mod http;
pub mod message;
pub mod mock;
pub mod nats;
pub mod pool;
pub mod rabbitmq;
pub mod reach;
pub mod redis_stream;
pub mod sqs;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::egress::EgressPolicy;
use crate::model::{Destination, DestinationKind, RequestRecord};

/// One delivery to make: the event's request, as it goes to the destination.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub event_id: &'a str,
    /// The event's connection; empty for a test message.
    pub connection_id: &'a str,
    pub request: &'a RequestRecord,
    pub destination: &'a Destination,
    pub attempt_number: i64,
}

/// What a destination answered, or why it could not be reached.
#[derive(Debug, Clone, Default)]
pub struct DeliveryResult {
    pub success: bool,
    pub response_status: Option<u16>,
    pub response_headers: Option<Vec<(String, String)>>,
    /// For brokers: what the broker answered (its message id, sequence…), as JSON.
    pub response_body: Option<String>,
    /// One of Hookdeck's attempt error codes (`TIMEOUT`, `CONNECTION_REFUSED`, …)
    /// or a broker's (`NOT_FOUND`, `PERMISSION_DENIED`, `UNROUTABLE`, …).
    pub error_code: Option<&'static str>,
    pub error_message: Option<String>,
    pub requested_url: Option<String>,
    pub http_method: Option<String>,
    /// What the destination asked for with `Retry-After`, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// Retrying cannot help (no such queue, permission denied, a message the
    /// broker refuses): the event fails now instead of following its retry rule.
    pub permanent: bool,
    /// Nothing was sent (no CLI listens for the event): this is not an attempt,
    /// and the event goes back to wait, in its place in the queue.
    pub held: bool,
}

impl DeliveryResult {
    /// A failed attempt that the connection's retry rule may retry.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        DeliveryResult {
            error_code: Some(code),
            error_message: Some(message.into()),
            ..Default::default()
        }
    }

    /// A failed attempt that no retry can fix (see [`DeliveryResult::permanent`]).
    pub fn permanent(code: &'static str, message: impl Into<String>) -> Self {
        DeliveryResult {
            permanent: true,
            ..Self::error(code, message)
        }
    }

    /// Not sent, and not an attempt (see [`DeliveryResult::held`]).
    pub fn held(code: &'static str, message: impl Into<String>) -> Self {
        DeliveryResult {
            held: true,
            ..Self::error(code, message)
        }
    }

    /// A message the broker accepted; `answer` is what it said, as JSON.
    pub fn accepted(target: String, answer: serde_json::Value) -> Self {
        DeliveryResult {
            success: true,
            requested_url: Some(target),
            response_body: Some(answer.to_string()),
            ..Default::default()
        }
    }

    /// The same result, naming where it was sent.
    pub fn at(mut self, target: &str) -> Self {
        self.requested_url.get_or_insert_with(|| target.to_owned());
        self
    }
}

#[async_trait]
pub trait Adapter: Send + Sync {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult;
}

/// What every broker adapter is built with.
#[derive(Clone)]
pub struct BrokerSettings {
    /// Connecting, and waiting for one message's confirmation, each take at most this.
    pub timeout: Duration,
    pub egress: Arc<EgressPolicy>,
}

/// The adapters of this process, built once from the configuration.
pub struct Adapters {
    pub http: http::HttpAdapter,
    pub mock: mock::MockAdapter,
    pub rabbitmq: rabbitmq::RabbitMqAdapter,
    pub nats: nats::NatsAdapter,
    pub sqs: sqs::SqsAdapter,
    pub eventbridge: eventbridge::EventBridgeAdapter,
    pub redis_stream: redis_stream::RedisStreamAdapter,
    pub cli: cli::CliAdapter,
}

impl Adapters {
    pub fn new(http: http::HttpAdapter, cli: cli::CliAdapter, settings: BrokerSettings) -> Self {
        Adapters {
            http,
            cli,
            mock: mock::MockAdapter,
            rabbitmq: rabbitmq::RabbitMqAdapter::new(settings.clone()),
            nats: nats::NatsAdapter::new(settings.clone()),
            sqs: sqs::SqsAdapter::new(settings.clone()),
            eventbridge: eventbridge::EventBridgeAdapter::new(settings.clone()),
            redis_stream: redis_stream::RedisStreamAdapter::new(settings),
        }
    }

    pub fn for_destination(&self, d: &Destination) -> &dyn Adapter {
        match d.kind {
            DestinationKind::Http => &self.http,
            DestinationKind::MockApi => &self.mock,
            DestinationKind::Cli => &self.cli,
            DestinationKind::Rabbitmq(_) => &self.rabbitmq,
            DestinationKind::Nats(_) => &self.nats,
            DestinationKind::AwsSqs(_) => &self.sqs,
            DestinationKind::AwsEventbridge(_) => &self.eventbridge,
            DestinationKind::RedisStream(_) => &self.redis_stream,
        }
    }
}
