//! `AWS_SQS` sources: long polling (`ReceiveMessage`, up to 10 at a time),
//! each message deleted only after its request is committed; one given back
//! is made visible again at once. Its dedup key is its `message_id` attribute
//! (the producer's id for it; `x-hookyard-event-id` from Hookyard's
//! destination), else its `MessageId`.
//!
//! Messages written by Hookyard's SQS destination come back as they went in:
//! the `headers` attribute (a JSON object) is the headers, a `base64`
//! `body-encoding` is decoded, and `x-hookyard-topic` (or `topic`) is the
//! topic. Any other string attribute becomes a header.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use base64::Engine as _;

use super::{token, AckToken, BrokerError, BrokerLimits, BrokerMessage, Consumer};
use crate::destinations::{aws, BrokerSettings};
use crate::model::SqsSourceConfig;

/// SQS's longest receive batch.
const MAX_RECEIVE: usize = 10;
/// Long polling: how long one receive waits for a first message (SQS allows 20).
const WAIT: Duration = Duration::from_secs(5);

pub struct SqsConsumer {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

fn error<E, R>(e: aws_sdk_sqs::error::SdkError<E, R>) -> BrokerError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    aws::sdk_error("SQS", e).into()
}

/// Makes the client and checks the queue answers (so a wrong URL or missing
/// credentials are an issue now, not silence).
pub async fn connect(
    c: &SqsSourceConfig,
    limits: &BrokerLimits,
) -> Result<SqsConsumer, BrokerError> {
    let settings = BrokerSettings {
        timeout: limits.timeout + WAIT,
        egress: limits.egress.clone(),
    };
    let config = aws::sdk_config(&c.access(), &settings).await?;
    let client = aws_sdk_sqs::Client::new(&config);
    client
        .get_queue_attributes()
        .queue_url(&c.queue_url)
        .send()
        .await
        .map_err(error)?;
    Ok(SqsConsumer {
        client,
        queue_url: c.queue_url.clone(),
    })
}

fn message(m: Message) -> Option<(BrokerMessage, AckToken)> {
    let handle = m.receipt_handle?;
    let attrs = m.message_attributes.unwrap_or_default();
    let text = |k: &str| {
        attrs
            .get(k)
            .and_then(|a| a.string_value())
            .map(str::to_owned)
    };
    // The producer's own id first: SQS gives each send a new `MessageId`,
    // so only that makes a producer's retry a duplicate.
    let mut out = BrokerMessage {
        dedup_key: text("message_id")
            .or_else(|| text("x-hookyard-event-id"))
            .or(m.message_id),
        topic: text("x-hookyard-topic").or_else(|| text("topic")),
        ..Default::default()
    };
    let body = m.body.unwrap_or_default();
    out.body = if text("body-encoding").as_deref() == Some("base64") {
        match base64::engine::general_purpose::STANDARD.decode(body.as_bytes()) {
            Ok(b) => b,
            Err(e) => {
                out.invalid = Some(format!("the body is marked base64 but is not: {e}"));
                body.into_bytes()
            }
        }
    } else {
        body.into_bytes()
    };
    if let Some(h) = text("headers") {
        match serde_json::from_str::<HashMap<String, String>>(&h) {
            Ok(h) => out
                .headers
                .extend(h.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v))),
            Err(e) => {
                out.invalid = Some(format!(
                    "the `headers` attribute is not a JSON object of strings: {e}"
                ))
            }
        }
    }
    for (k, a) in &attrs {
        if matches!(k.as_str(), "headers" | "body-encoding") {
            continue;
        }
        if let Some(v) = a.string_value() {
            let k = k.to_ascii_lowercase();
            if !out.headers.iter().any(|(n, _)| *n == k) {
                out.headers.push((k, v.to_owned()));
            }
        }
    }
    out.headers.sort();
    Some((out, Box::new(handle)))
}

#[async_trait]
impl Consumer for SqsConsumer {
    async fn receive(&mut self, max: usize) -> Result<Vec<(BrokerMessage, AckToken)>, BrokerError> {
        let got = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, MAX_RECEIVE) as i32)
            .wait_time_seconds(WAIT.as_secs() as i32)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(error)?;
        Ok(got
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(message)
            .collect())
    }

    async fn ack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError> {
        let handles: Vec<String> = tokens.into_iter().filter_map(token::<String>).collect();
        for chunk in handles.chunks(MAX_RECEIVE) {
            let entries = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .build()
                        .ok()
                })
                .collect();
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(error)?;
            // A failed delete is redelivered later, and de-duplicated then.
            for f in out.failed() {
                tracing::warn!(
                    code = f.code(),
                    message = f.message(),
                    "SQS did not delete a stored message"
                );
            }
        }
        Ok(())
    }

    async fn nack(&mut self, tokens: Vec<AckToken>) -> Result<(), BrokerError> {
        for handle in tokens.into_iter().filter_map(token::<String>) {
            self.client
                .change_message_visibility()
                .queue_url(&self.queue_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .map_err(error)?;
        }
        Ok(())
    }
}
