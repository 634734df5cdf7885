//! `AWS_SQS`: SendMessage to a standard or FIFO queue (the official SDK). The
//! event id is the FIFO deduplication id; the body goes as it is when SQS can
//! carry it (text of the characters SQS allows), base64 otherwise.
//!
//! SQS allows 10 message attributes, so the request's headers travel as one JSON
//! attribute, `headers`, beside `x-hookyard-event-id`, `x-hookyard-request-id`,
//! `x-hookyard-attempt`, `content-type` and, for base64 bodies, `body-encoding`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;
use base64::Engine as _;
use serde_json::json;

use super::pool::{self, Client, Clients};
use super::{aws, message, Adapter, BrokerSettings, Delivery, DeliveryResult};
use crate::model::{DestinationKind, SqsConfig};

pub struct Link {
    client: aws_sdk_sqs::Client,
}

impl Client for Link {}

pub struct SqsAdapter {
    settings: BrokerSettings,
    clients: Clients<Link>,
}

impl SqsAdapter {
    pub fn new(settings: BrokerSettings) -> Self {
        SqsAdapter {
            settings,
            clients: Clients::default(),
        }
    }

    async fn connect(&self, c: &SqsConfig) -> Result<Link, DeliveryResult> {
        let config = aws::sdk_config(&c.access(), &self.settings).await?;
        Ok(Link {
            client: aws_sdk_sqs::Client::new(&config),
        })
    }
}

/// Characters an SQS message body may hold (XML 1.0's): tab, line feed,
/// carriage return, and U+0020 up, except the surrogates and U+FFFE/U+FFFF.
fn sqs_text(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    text.chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .then_some(text)
}

fn attribute(value: impl Into<String>) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .ok()
}

fn attributes(d: &Delivery<'_>, base64_body: bool) -> HashMap<String, MessageAttributeValue> {
    let mut out = HashMap::new();
    // At most 10 attributes (SQS's limit): 3 or 4 ids, headers, content-type,
    // body-encoding.
    for (k, v) in message::id_headers(d) {
        out.extend(attribute(v).map(|a| (k.to_owned(), a)));
    }
    out.extend(attribute(message::headers_json(d)).map(|a| ("headers".to_owned(), a)));
    let content_type = d
        .request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if let Some((_, ct)) = content_type {
        out.extend(attribute(ct.clone()).map(|a| ("content-type".to_owned(), a)));
    }
    if base64_body {
        out.extend(attribute("base64").map(|a| ("body-encoding".to_owned(), a)));
    }
    out
}

#[async_trait]
impl Adapter for SqsAdapter {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult {
        let DestinationKind::AwsSqs(c) = &d.destination.kind else {
            return DeliveryResult::permanent("UNKNOWN", "not an SQS destination");
        };
        let target = c.queue_url.clone();
        let key = pool::key(d.destination);
        let link = match self.clients.get(&key, self.connect(c)).await {
            Ok(link) => link,
            Err(e) => return e.at(&target),
        };
        let raw = message::body(d);
        let (body, base64_body) = match sqs_text(raw) {
            Some(text) => (text.to_owned(), false),
            None => (base64::engine::general_purpose::STANDARD.encode(raw), true),
        };
        let mut send = link
            .client
            .send_message()
            .queue_url(&c.queue_url)
            .message_body(body)
            .set_message_attributes(Some(attributes(d, base64_body)));
        if c.is_fifo() {
            let group = c
                .message_group_id
                .clone()
                .unwrap_or_else(|| d.request.source_id.clone());
            send = send
                .message_group_id(group)
                .message_deduplication_id(d.event_id);
        }
        match send.send().await {
            Ok(out) => DeliveryResult::accepted(
                target,
                json!({
                    "message_id": out.message_id(),
                    "sequence_number": out.sequence_number(),
                    "md5_of_message_body": out.md5_of_message_body(),
                    "body_encoding": if base64_body { "base64" } else { "text" },
                }),
            ),
            Err(e) => aws::sdk_error("SQS", e).at(&target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_sqs_cannot_hold_go_as_base64() {
        assert_eq!(sqs_text(b"{\"a\":1}\n"), Some("{\"a\":1}\n"));
        assert_eq!(
            sqs_text("caf\u{e9} \u{1F600}".as_bytes()),
            Some("caf\u{e9} \u{1F600}")
        );
        assert_eq!(sqs_text(b"\x00\x01"), None);
        assert_eq!(sqs_text(b"\xff\xfe"), None);
        assert_eq!(sqs_text("\u{FFFF}".as_bytes()), None);
    }
}
