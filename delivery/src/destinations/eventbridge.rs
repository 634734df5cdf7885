//! `AWS_EVENTBRIDGE`: PutEvents to an event bus (the official SDK), one entry per
//! event. `Detail` is the body when it is a JSON object, so the bus's rules match
//! on the provider's own fields; a partial failure is read from the entry.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use base64::Engine as _;
use serde_json::{json, Value};

use super::pool::{self, Client, Clients};
use super::{aws, message, Adapter, BrokerSettings, Delivery, DeliveryResult};
use crate::model::{DestinationKind, DetailFormat, EventBridgeConfig};

pub struct Link {
    client: aws_sdk_eventbridge::Client,
}

impl Client for Link {}

pub struct EventBridgeAdapter {
    settings: BrokerSettings,
    clients: Clients<Link>,
}

impl EventBridgeAdapter {
    pub fn new(settings: BrokerSettings) -> Self {
        EventBridgeAdapter {
            settings,
            clients: Clients::default(),
        }
    }

    async fn connect(&self, c: &EventBridgeConfig) -> Result<Link, DeliveryResult> {
        let config = aws::sdk_config(&c.access(), &self.settings).await?;
        Ok(Link {
            client: aws_sdk_eventbridge::Client::new(&config),
        })
    }
}

/// The body as a JSON value: parsed when it is JSON, a string when it is text,
/// `None` (goes as base64) otherwise.
fn body_value(raw: &[u8]) -> Option<Value> {
    serde_json::from_slice(raw).ok().or_else(|| {
        std::str::from_utf8(raw)
            .ok()
            .map(|t| Value::String(t.to_owned()))
    })
}

/// The entry's `Detail` (always a JSON object, as EventBridge requires).
pub fn detail(d: &Delivery<'_>, format: DetailFormat) -> String {
    let raw = message::body(d);
    let parsed = body_value(raw);
    let body_field = |obj: &mut serde_json::Map<String, Value>| match &parsed {
        Some(v) => {
            obj.insert("body".into(), v.clone());
        }
        None => {
            obj.insert(
                "body_base64".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(raw)),
            );
        }
    };
    match format {
        DetailFormat::Body => {
            if matches!(parsed, Some(Value::Object(_))) {
                // The bytes as they came, not re-serialised.
                return String::from_utf8_lossy(raw).into_owned();
            }
            let mut obj = serde_json::Map::new();
            body_field(&mut obj);
            Value::Object(obj).to_string()
        }
        DetailFormat::Envelope => {
            let mut obj = serde_json::Map::new();
            obj.insert("headers".into(), Value::Object(message::headers_object(d)));
            body_field(&mut obj);
            obj.insert(
                "hookyard".into(),
                json!({
                    "event_id": d.event_id,
                    "request_id": d.request.id,
                    "attempt": d.attempt_number,
                    "source_id": d.request.source_id,
                    "path": d.request.path,
                }),
            );
            Value::Object(obj).to_string()
        }
    }
}

#[async_trait]
impl Adapter for EventBridgeAdapter {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult {
        let DestinationKind::AwsEventbridge(c) = &d.destination.kind else {
            return DeliveryResult::permanent("UNKNOWN", "not an EventBridge destination");
        };
        let target = format!("eventbridge://{}", c.event_bus_name);
        let key = pool::key(d.destination);
        let link = match self.clients.get(&key, self.connect(c)).await {
            Ok(link) => link,
            Err(e) => return e.at(&target),
        };
        let source = c
            .source
            .clone()
            .unwrap_or_else(|| format!("hookyard.{}", d.request.source_id));
        let detail_type = c
            .detail_type
            .clone()
            .or_else(|| message::topic(d).map(str::to_owned))
            .unwrap_or_else(|| "webhook".to_owned());
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&c.event_bus_name)
            .source(source.clone())
            .detail_type(detail_type.clone())
            .detail(detail(d, c.detail))
            .build();
        let out = match link.client.put_events().entries(entry).send().await {
            Ok(out) => out,
            Err(e) => return aws::sdk_error("EventBridge", e).at(&target),
        };
        let Some(result) = out.entries().first() else {
            return DeliveryResult::error("BROKER_ERROR", "EventBridge answered no entry")
                .at(&target);
        };
        if out.failed_entry_count() > 0 || result.error_code().is_some() {
            return aws::service_error(
                "EventBridge",
                result.error_code().unwrap_or("Unknown"),
                result.error_message().unwrap_or("the entry failed"),
            )
            .at(&target);
        }
        DeliveryResult::accepted(
            target,
            json!({
                "event_id": result.event_id(),
                "source": source,
                "detail_type": detail_type,
            }),
        )
    }
}
