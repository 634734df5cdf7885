//! Source types (`type`) and each broker type's typed `config`: where a source's
//! requests come from besides HTTP (`/e/<source>` and the publish API), and the
//! checks a config passes before it is stored.

use serde::{Deserialize, Serialize};

use super::destination_types::{check_text, check_url, invalid, typed, ConfigError};

/// A source's type with its configuration. `WEBHOOK` (Hookdeck's default type)
/// receives HTTP at `/e/<source>` and through the publish API; the broker types
/// are consumed by the gateway and take no HTTP.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", content = "config", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceKind {
    #[default]
    Webhook,
    Rabbitmq(RabbitMqSourceConfig),
    Nats(NatsSourceConfig),
    AwsSqs(SqsSourceConfig),
    RedisStream(RedisStreamSourceConfig),
}

/// Every `type` a source may have, in the order the API documents them.
pub const SOURCE_TYPES: [&str; 5] = ["WEBHOOK", "RABBITMQ", "NATS", "AWS_SQS", "REDIS_STREAM"];

impl SourceKind {
    /// The `type` name (`WEBHOOK`, `RABBITMQ`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceKind::Webhook => "WEBHOOK",
            SourceKind::Rabbitmq(_) => "RABBITMQ",
            SourceKind::Nats(_) => "NATS",
            SourceKind::AwsSqs(_) => "AWS_SQS",
            SourceKind::RedisStream(_) => "REDIS_STREAM",
        }
    }

    /// Consumed from a broker by the gateway (no `/e/<source>`, no publish).
    pub fn is_broker(&self) -> bool {
        !matches!(self, SourceKind::Webhook)
    }

    /// The `config` object, `None` for `WEBHOOK`.
    pub fn config_json(&self) -> Option<serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => m.remove("config"),
            _ => None,
        }
    }

    /// Builds a kind from its `type` name and `config` object. Errors name the
    /// field (`type`, `config`, `config.queue`…).
    pub fn from_parts(
        type_name: &str,
        config: Option<serde_json::Value>,
    ) -> Result<Self, ConfigError> {
        if !SOURCE_TYPES.contains(&type_name) {
            return Err(invalid(
                "type",
                format!(
                    "must be one of {} (got {type_name:?})",
                    SOURCE_TYPES.join(", ")
                ),
            ));
        }
        let config = match config {
            Some(serde_json::Value::Null) => None,
            c => c,
        };
        let kind = match (type_name, config) {
            ("WEBHOOK", None) => SourceKind::Webhook,
            ("WEBHOOK", Some(serde_json::Value::Object(m))) if m.is_empty() => SourceKind::Webhook,
            ("WEBHOOK", Some(_)) => {
                return Err(invalid(
                    "config",
                    "must be empty or absent for WEBHOOK sources",
                ))
            }
            (t, None) => return Err(invalid("config", format!("is required for {t} sources"))),
            (_, Some(c)) if !c.is_object() => return Err(invalid("config", "must be an object")),
            ("RABBITMQ", Some(c)) => SourceKind::Rabbitmq(typed(c)?),
            ("NATS", Some(c)) => SourceKind::Nats(typed(c)?),
            ("AWS_SQS", Some(c)) => SourceKind::AwsSqs(typed(c)?),
            (_, Some(c)) => SourceKind::RedisStream(typed(c)?),
        };
        kind.check().map_err(|e| ConfigError {
            field: format!("config.{}", e.field),
            message: e.message,
        })?;
        Ok(kind)
    }

    /// The checks serde cannot make.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self {
            SourceKind::Webhook => Ok(()),
            SourceKind::Rabbitmq(c) => c.check(),
            SourceKind::Nats(c) => c.check(),
            SourceKind::AwsSqs(c) => c.check(),
            SourceKind::RedisStream(c) => c.check(),
        }
    }

    /// How many consumers the gateway runs for this source on each replica.
    pub fn consumers(&self) -> u16 {
        match self {
            SourceKind::Webhook => 0,
            SourceKind::Rabbitmq(c) => c.consumers,
            SourceKind::Nats(c) => c.consumers,
            SourceKind::AwsSqs(c) => c.consumers,
            SourceKind::RedisStream(c) => c.consumers,
        }
    }
}

fn one() -> u16 {
    1
}

fn check_consumers(n: u16) -> Result<(), ConfigError> {
    if !(1..=64).contains(&n) {
        return Err(invalid("consumers", "must be between 1 and 64"));
    }
    Ok(())
}

/// RabbitMQ (AMQP 0-9-1): consume a queue, optionally declared and bound to an
/// exchange with a routing key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitMqSourceConfig {
    /// `amqp://user:password@host:5672/vhost` (or `amqps://`).
    pub url: String,
    /// Declared durable when it does not exist.
    pub queue: String,
    /// Bind the queue to this exchange (which must exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// With `exchange`: the binding key (default `#`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    #[serde(default = "one")]
    pub consumers: u16,
}

impl RabbitMqSourceConfig {
    fn check(&self) -> Result<(), ConfigError> {
        check_url("url", &self.url, &["amqp", "amqps"])?;
        check_text("queue", &self.queue, 255)?;
        if let Some(e) = &self.exchange {
            check_text("exchange", e, 255)?;
        }
        if let Some(k) = &self.routing_key {
            if self.exchange.is_none() {
                return Err(invalid(
                    "routing_key",
                    "needs `exchange` (the binding it is for)",
                ));
            }
            if k.len() > 255 {
                return Err(invalid("routing_key", "must be at most 255 bytes"));
            }
        }
        check_consumers(self.consumers)
    }
}

/// NATS JetStream: a durable pull consumer on a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsSourceConfig {
    /// `nats://host:4222` (or `tls://`).
    pub url: String,
    pub stream: String,
    /// The durable consumer's name; default `hookyard-<source id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable: Option<String>,
    /// Only subjects matching this filter (wildcards allowed); default: the whole stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default = "one")]
    pub consumers: u16,
}

impl NatsSourceConfig {
    fn check(&self) -> Result<(), ConfigError> {
        check_url("url", &self.url, &["nats", "tls"])?;
        check_text("stream", &self.stream, 255)?;
        if let Some(d) = &self.durable {
            check_text("durable", d, 255)?;
        }
        if let Some(s) = &self.subject {
            check_text("subject", s, 255)?;
        }
        check_consumers(self.consumers)
    }
}

/// Amazon SQS: long polling, a message deleted only after it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqsSourceConfig {
    pub queue_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    #[serde(default = "one")]
    pub consumers: u16,
}

impl SqsSourceConfig {
    /// How the SDK reaches the queue (the region from the queue URL when unset).
    pub fn access(&self) -> super::AwsAccess {
        super::AwsAccess {
            region: self
                .region
                .clone()
                .or_else(|| super::sqs_region_in_url(&self.queue_url)),
            endpoint_url: self.endpoint_url.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        check_url("queue_url", &self.queue_url, &["https", "http"])?;
        if let Some(e) = &self.endpoint_url {
            check_url("endpoint_url", e, &["https", "http"])?;
        }
        if let Some(r) = &self.region {
            if !super::is_aws_region(r) {
                return Err(invalid("region", format!("is not an AWS region ({r:?})")));
            }
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(invalid(
                "secret_access_key",
                "and access_key_id go together (give both, or neither to use the gateway's AWS credentials)",
            ));
        }
        check_consumers(self.consumers)
    }
}

/// Redis Streams: a consumer group reading a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisStreamSourceConfig {
    /// `redis://[user:password@]host:6379[/db]` (or `rediss://`).
    pub url: String,
    pub stream: String,
    /// The consumer group; default `hookyard`. Created (with the stream) if missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default = "one")]
    pub consumers: u16,
}

impl RedisStreamSourceConfig {
    fn check(&self) -> Result<(), ConfigError> {
        check_url("url", &self.url, &["redis", "rediss"])?;
        check_text("stream", &self.stream, 1024)?;
        if let Some(g) = &self.group {
            check_text("group", g, 255)?;
        }
        check_consumers(self.consumers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(t: &str, c: Option<serde_json::Value>) -> Result<SourceKind, String> {
        SourceKind::from_parts(t, c).map_err(|e| e.to_string())
    }

    #[test]
    fn webhook_takes_no_config_and_brokers_need_one() {
        assert_eq!(parts("WEBHOOK", None), Ok(SourceKind::Webhook));
        assert_eq!(parts("WEBHOOK", Some(json!({}))), Ok(SourceKind::Webhook));
        assert!(parts("WEBHOOK", Some(json!({"url": "x"})))
            .unwrap_err()
            .starts_with("config "));
        assert!(parts("NATS", None)
            .unwrap_err()
            .starts_with("config is required"));
        assert!(parts("KAFKA", None)
            .unwrap_err()
            .starts_with("type must be one of"));
    }

    #[test]
    fn errors_name_the_field_inside_config() {
        let e = parts("RABBITMQ", Some(json!({"url": "http://x", "queue": "q"}))).unwrap_err();
        assert!(e.starts_with("config.url "), "{e}");
        let e = parts(
            "RABBITMQ",
            Some(json!({"url": "amqp://h", "queue": "q", "bogus": 1})),
        )
        .unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let e = parts(
            "AWS_SQS",
            Some(json!({"queue_url": "http://h/1/q", "access_key_id": "a"})),
        )
        .unwrap_err();
        assert!(e.starts_with("config.secret_access_key "), "{e}");
        let e = parts(
            "REDIS_STREAM",
            Some(json!({"url": "redis://h", "stream": "s", "consumers": 0})),
        )
        .unwrap_err();
        assert!(e.starts_with("config.consumers "), "{e}");
    }

    #[test]
    fn configs_round_trip_through_type_and_config() {
        let k = parts(
            "NATS",
            Some(json!({"url": "nats://127.0.0.1:4222", "stream": "ORDERS"})),
        )
        .unwrap();
        assert_eq!(k.type_name(), "NATS");
        assert!(k.is_broker());
        assert_eq!(k.consumers(), 1);
        assert_eq!(parts("NATS", k.config_json()).unwrap(), k);
    }
}
