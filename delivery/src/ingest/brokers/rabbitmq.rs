//! `RABBITMQ` sources: a queue consumed with manual acknowledgements (lapin).
//! The queue is used as it is when it exists, declared durable when it does
//! not, and bound to the configured exchange; the broker holds at most a few
//! batches unacknowledged per consumer (`basic.qos`).

use std::time::Duration;

use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties};

use super::{token, AckToken, BrokerError, BrokerMessage, Consumer};
use crate::destinations::rabbitmq::classify;
use crate::model::RabbitMqSourceConfig;

/// How long one receive waits for a first message.
const POLL: Duration = Duration::from_secs(2);

pub struct RabbitMqConsumer {
    /// Taken when dropped, to close it.
    connection: Option<Connection>,
    channel: Channel,
    deliveries: lapin::Consumer,
}

fn error(e: lapin::Error) -> BrokerError {
    classify(e).into()
}

/// Connects, makes sure the queue is there (and bound), and starts consuming.
pub async fn connect(
    c: &RabbitMqSourceConfig,
    source_id: &str,
    index: u16,
) -> Result<RabbitMqConsumer, BrokerError> {
    let props = ConnectionProperties::default().with_connection_name(
        format!("hookyard/{} source {source_id}", env!("CARGO_PKG_VERSION")).into(),
    );
    let connection = Connection::connect(&c.url, props).await.map_err(error)?;
    let mut channel = connection.create_channel().await.map_err(error)?;
    // Passive first: a queue that exists (quorum, with arguments…) is used as
    // it is; only a missing one is declared, durable.
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    if let Err(e) = channel
        .queue_declare(c.queue.as_str().into(), passive, FieldTable::default())
        .await
    {
        let e = classify(e);
        if e.error_code != Some("NOT_FOUND") {
            return Err(e.into());
        }
        // The failed passive declare closed the channel.
        channel = connection.create_channel().await.map_err(error)?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(c.queue.as_str().into(), durable, FieldTable::default())
            .await
            .map_err(error)?;
    }
    if let Some(exchange) = &c.exchange {
        let key = c.routing_key.as_deref().unwrap_or("#");
        channel
            .queue_bind(
                c.queue.as_str().into(),
                exchange.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(error)?;
    }
    let prefetch = u16::try_from(super::driver::BATCH * 2).unwrap_or(u16::MAX);
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(error)?;
    let tag = format!("hookyard-{source_id}-{index}-{}", std::process::id());
    let deliveries = channel
        .basic_consume(
            c.queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(error)?;
    Ok(RabbitMqConsumer {
        connection: Some(connection),
        channel,
        deliveries,
    })
}

/// A header value as text (AMQP headers are typed; requests' are text).
fn text(v: &AMQPValue) -> Option<String> {
    Some(match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_owned(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::Float(n) => n.to_string(),
        AMQPValue::Double(n) => n.to_string(),
        AMQPValue::Timestamp(n) => n.to_string(),
        _ => return None,
    })
}

fn message(d: lapin::message::Delivery) -> (BrokerMessage, AckToken) {
    let p = &d.properties;
    let mut headers = Vec::new();
    if let Some(ct) = p.content_type() {
        headers.push(("content-type".to_owned(), ct.as_str().to_owned()));
    }
    if let Some(table) = p.headers() {
        for (k, v) in table.inner() {
            if let Some(v) = text(v) {
                headers.push((k.as_str().to_ascii_lowercase(), v));
            }
        }
    }
    let topic = Some(d.routing_key.as_str().to_owned()).filter(|k| !k.is_empty());
    let m = BrokerMessage {
        dedup_key: p.message_id().as_ref().map(|id| id.as_str().to_owned()),
        topic,
        headers,
        body: d.data,
        invalid: None,
    };
    (m, Box::new(d.delivery_tag))
}

#[async_trait]
impl Consumer for RabbitMqConsumer {
    async fn receive(&mut self, max: usize) -> Result<Vec<(BrokerMessage, AckToken)>, BrokerError> {
        let first =
            match tokio::time::timeout(POLL, self.deliveries.next()).await {
                Err(_) => return Ok(Vec::new()),
                Ok(None) => return Err(BrokerError::new(
                    "SOCKET_CLOSED",
                    "RabbitMQ ended the consumer (the queue was deleted, or the connection closed)",
                )),
                Ok(Some(d)) => d.map_err(error)?,
            };
        let mut out = vec![message(first)];
        // Whatever else is already here, without waiting.
        while out.len() < max {
            match self.deliveries.next().now_or_never() {
                Some(Some(Ok(d))) => out.push(message(d)),
                Some(Some(Err(e))) => return Err(error(e)),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn ack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError> {
        for tag in tokens.into_iter().filter_map(token::<u64>) {
            self.channel
                .basic_ack(tag, BasicAckOptions::default())
                .await
                .map_err(error)?;
        }
        Ok(())
    }

    async fn nack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError> {
        let requeue = BasicNackOptions {
            requeue: true,
            ..Default::default()
        };
        for tag in tokens.into_iter().filter_map(token::<u64>) {
            self.channel.basic_nack(tag, requeue).await.map_err(error)?;
        }
        Ok(())
    }
}

impl Drop for RabbitMqConsumer {
    fn drop(&mut self) {
        // Closing gives unacknowledged messages back at once rather than when
        // the broker notices the socket is gone.
        let Some(connection) = self.connection.take() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = connection.close(320, "closed by Hookyard".into()).await;
            });
        }
    }
}
