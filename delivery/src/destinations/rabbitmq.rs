//! `RABBITMQ`: AMQP 0-9-1 (lapin). One connection and one confirm-mode channel per
//! destination; each event is published persistent and `mandatory`, and the
//! attempt succeeds only when the broker confirmed it (an unroutable message
//! comes back and is a failed attempt, not silence).

use std::sync::Arc;

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ErrorKind};
use serde_json::json;

use super::pool::{self, within, Client, Clients};
use super::{message, reach, Adapter, BrokerSettings, Delivery, DeliveryResult};
use crate::egress::redact;
use crate::model::{DestinationKind, RabbitMqConfig};

/// A connection and its confirm-mode channel.
pub struct Link {
    connection: Connection,
    channel: Channel,
}

impl Client for Link {
    fn close(self: Arc<Self>) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = self
                    .connection
                    .close(320, "closed by Hookyard".into())
                    .await;
            });
        }
    }
}

pub struct RabbitMqAdapter {
    settings: BrokerSettings,
    clients: Clients<Link>,
}

impl RabbitMqAdapter {
    pub fn new(settings: BrokerSettings) -> Self {
        RabbitMqAdapter {
            settings,
            clients: Clients::default(),
        }
    }

    async fn connect(&self, c: &RabbitMqConfig) -> Result<Link, DeliveryResult> {
        reach::check(&self.settings.egress, &c.url).await?;
        within(self.settings.timeout, "connecting to RabbitMQ", async {
            let props = ConnectionProperties::default()
                .with_connection_name(concat!("hookyard/", env!("CARGO_PKG_VERSION")).into());
            let connection = Connection::connect(&c.url, props).await.map_err(classify)?;
            let channel = connection.create_channel().await.map_err(classify)?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(classify)?;
            Ok(Link {
                connection,
                channel,
            })
        })
        .await
    }
}

/// Message headers RabbitMQ (or a common plugin) acts on: `CC`/`BCC` route
/// copies to other routing keys, `x-delay` delays, `x-death`… fake a dead-letter
/// history, `x-deduplication-header` and `x-stream-filter-value` steer plugins
/// and streams. A provider's are dropped: the internet must not choose where a
/// message goes.
const BROKER_HEADERS: &[&str] = &[
    "cc",
    "bcc",
    "x-delay",
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-deduplication-header",
    "x-stream-filter-value",
    "x-received-from",
];

/// The request's headers as an AMQP table (each a long string).
fn header_table(d: &Delivery<'_>) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in message::headers(d) {
        if BROKER_HEADERS.iter().any(|b| b.eq_ignore_ascii_case(&k)) {
            continue;
        }
        // Field names are AMQP short strings (at most 255 bytes).
        if k.len() <= 255 {
            table.insert(
                ShortString::from(k),
                AMQPValue::LongString(LongString::from(v)),
            );
        }
    }
    table
}

fn properties(d: &Delivery<'_>, c: &RabbitMqConfig) -> BasicProperties {
    let mut p = BasicProperties::default()
        .with_message_id(d.event_id.into())
        .with_delivery_mode(if c.persistent { 2 } else { 1 })
        .with_app_id("hookyard".into())
        .with_timestamp(u64::try_from(crate::clock::now_ms() / 1000).unwrap_or(0))
        .with_headers(header_table(d));
    let content_type = d
        .request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    if let Some(ct) = content_type.filter(|ct| ct.len() <= 255) {
        p = p.with_content_type(ct.into());
    }
    p
}

/// The attempt's error for a lapin error: the broker's refusals that a retry
/// cannot fix (no such exchange, access refused, message too large) are
/// permanent; a lost connection or channel is retried.
pub(crate) fn classify(e: lapin::Error) -> DeliveryResult {
    let text = redact::urls_in(&e.to_string());
    match e.kind() {
        ErrorKind::IOError(io) => DeliveryResult::error(
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "CONNECTION_REFUSED",
                std::io::ErrorKind::ConnectionReset => "CONNECTION_RESET",
                std::io::ErrorKind::TimedOut => "TIMEOUT",
                _ => "SOCKET_CLOSED",
            },
            text,
        ),
        ErrorKind::ProtocolError(amqp) => {
            let said = format!("RabbitMQ answered {} {}", amqp.get_id(), amqp.get_message());
            match amqp.kind() {
                AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND) => {
                    DeliveryResult::permanent("NOT_FOUND", said)
                }
                AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED) => {
                    DeliveryResult::permanent("PERMISSION_DENIED", said)
                }
                AMQPErrorKind::Soft(AMQPSoftError::CONTENTTOOLARGE) => {
                    DeliveryResult::permanent("MESSAGE_REJECTED", said)
                }
                AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED) => {
                    DeliveryResult::permanent("BROKER_REFUSED", said)
                }
                _ => DeliveryResult::error("BROKER_ERROR", said),
            }
        }
        // Bad credentials end the handshake without a protocol error.
        ErrorKind::AuthProviderError(_) => DeliveryResult::permanent("PERMISSION_DENIED", text),
        ErrorKind::InvalidChannelState(..) | ErrorKind::InvalidConnectionState(_) => {
            DeliveryResult::error("SOCKET_CLOSED", text)
        }
        _ => DeliveryResult::error("BROKER_ERROR", text),
    }
}

#[async_trait]
impl Adapter for RabbitMqAdapter {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult {
        let DestinationKind::Rabbitmq(c) = &d.destination.kind else {
            return DeliveryResult::permanent("UNKNOWN", "not a RabbitMQ destination");
        };
        let target = redact::url_text(&c.url);
        let key = pool::key(d.destination);
        let link = match self.clients.get(&key, self.connect(c)).await {
            Ok(link) => link,
            Err(e) => return e.at(&target),
        };
        let options = BasicPublishOptions {
            mandatory: c.mandatory,
            ..Default::default()
        };
        let sent = within(
            self.settings.timeout,
            "waiting for RabbitMQ's confirm",
            async {
                let confirm = link
                    .channel
                    .basic_publish(
                        c.exchange.as_str().into(),
                        c.routing_key.as_str().into(),
                        options,
                        message::body(d),
                        properties(d, c),
                    )
                    .await
                    .map_err(classify)?;
                confirm.await.map_err(classify)
            },
        )
        .await;
        match sent {
            Ok(Confirmation::Ack(None)) => DeliveryResult::accepted(
                target,
                json!({
                    "confirmed": true,
                    "exchange": c.exchange,
                    "routing_key": c.routing_key,
                    "message_id": d.event_id,
                }),
            ),
            Ok(Confirmation::Ack(Some(returned))) => DeliveryResult::error(
                "UNROUTABLE",
                format!(
                    "RabbitMQ returned the message: {} {} (no queue is bound to exchange {:?} \
                     with routing key {:?})",
                    returned.reply_code, returned.reply_text, c.exchange, c.routing_key
                ),
            )
            .at(&target),
            Ok(Confirmation::Nack(_)) => DeliveryResult::error(
                "BROKER_REFUSED",
                "RabbitMQ did not accept the message (nack): a queue may be full or unavailable",
            )
            .at(&target),
            Ok(Confirmation::NotRequested) => {
                self.clients.forget(&key).await;
                DeliveryResult::error("BROKER_ERROR", "the channel was not in confirm mode")
                    .at(&target)
            }
            Err(e) => {
                // The channel (or the connection) is closed after an error: the
                // next attempt opens a new one.
                self.clients.forget(&key).await;
                e.at(&target)
            }
        }
    }
}
