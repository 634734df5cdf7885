//! Destination types (`type`) and each type's typed `config`: what a destination
//! is besides an HTTP endpoint, and the checks a config passes before it is stored.

use serde::{Deserialize, Serialize};

/// A destination's type with its configuration. HTTP keeps Hookdeck's flat fields
/// (`url`, `http_method`, `auth_method`…) on the destination itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", content = "config", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DestinationKind {
    #[default]
    Http,
    /// Hookdeck's: accepts and discards every event, recording a successful attempt.
    MockApi,
    /// Hookdeck's CLI destination: events go to whichever `hookyard listen` is
    /// connected for them, and wait in the store while none is. Its settings are
    /// the flat `cli_path` (and `http_method`, `auth_method`) like HTTP's.
    Cli,
    Rabbitmq(RabbitMqConfig),
    Nats(NatsConfig),
    AwsSqs(SqsConfig),
    AwsEventbridge(EventBridgeConfig),
    RedisStream(RedisStreamConfig),
}

/// Every `type` a destination may have, in the order the API documents them.
pub const DESTINATION_TYPES: [&str; 8] = [
    "HTTP",
    "CLI",
    "MOCK_API",
    "RABBITMQ",
    "NATS",
    "AWS_SQS",
    "AWS_EVENTBRIDGE",
    "REDIS_STREAM",
];

/// A config field that fails its check: the field (relative to `config`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

pub(super) fn invalid(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl DestinationKind {
    /// The `type` name (`HTTP`, `RABBITMQ`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            DestinationKind::Http => "HTTP",
            DestinationKind::MockApi => "MOCK_API",
            DestinationKind::Cli => "CLI",
            DestinationKind::Rabbitmq(_) => "RABBITMQ",
            DestinationKind::Nats(_) => "NATS",
            DestinationKind::AwsSqs(_) => "AWS_SQS",
            DestinationKind::AwsEventbridge(_) => "AWS_EVENTBRIDGE",
            DestinationKind::RedisStream(_) => "REDIS_STREAM",
        }
    }

    pub fn is_http(&self) -> bool {
        matches!(self, DestinationKind::Http)
    }

    /// Types set up with the flat HTTP fields (`http_method`, `auth_method`,
    /// `path_forwarding_disabled`) rather than a `config`.
    pub fn has_http_fields(&self) -> bool {
        matches!(self, DestinationKind::Http | DestinationKind::Cli)
    }

    /// Does this type take a `config` object?
    pub fn type_has_config(type_name: &str) -> bool {
        !matches!(type_name, "HTTP" | "MOCK_API" | "CLI")
    }

    /// Where a broker or bus destination publishes (its URL, queue URL or bus),
    /// as configured (credentials included: redact before showing it).
    pub fn address(&self) -> Option<String> {
        match self {
            DestinationKind::Http | DestinationKind::MockApi | DestinationKind::Cli => None,
            DestinationKind::Rabbitmq(c) => Some(c.url.clone()),
            DestinationKind::Nats(c) => Some(c.url.clone()),
            DestinationKind::AwsSqs(c) => Some(c.queue_url.clone()),
            DestinationKind::AwsEventbridge(c) => Some(c.event_bus_name.clone()),
            DestinationKind::RedisStream(c) => Some(c.url.clone()),
        }
    }

    /// The `config` object, `None` for types without one.
    pub fn config_json(&self) -> Option<serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => m.remove("config"),
            _ => None,
        }
    }

    /// Builds a kind from its `type` name and `config` object. Errors name the field
    /// inside `config` (`exchange`, `region`…) or `type`.
    pub fn from_parts(
        type_name: &str,
        config: Option<serde_json::Value>,
    ) -> Result<Self, ConfigError> {
        if !DESTINATION_TYPES.contains(&type_name) {
            return Err(invalid(
                "type",
                format!(
                    "must be one of {} (got {type_name:?})",
                    DESTINATION_TYPES.join(", ")
                ),
            ));
        }
        let has_config = Self::type_has_config(type_name);
        let config = match config {
            Some(serde_json::Value::Null) | None if has_config => {
                return Err(invalid(
                    "config",
                    format!("is required for {type_name} destinations"),
                ))
            }
            Some(serde_json::Value::Object(m)) if !has_config && !m.is_empty() => {
                return Err(invalid(
                    "config",
                    format!("must be empty or absent for {type_name} destinations"),
                ))
            }
            Some(c) if has_config && !c.is_object() => {
                return Err(invalid("config", "must be an object"));
            }
            c => c.filter(|_| has_config),
        };
        let kind = match (type_name, config) {
            ("MOCK_API", _) => DestinationKind::MockApi,
            ("CLI", _) => DestinationKind::Cli,
            ("RABBITMQ", Some(c)) => DestinationKind::Rabbitmq(typed(c)?),
            ("NATS", Some(c)) => DestinationKind::Nats(typed(c)?),
            ("AWS_SQS", Some(c)) => DestinationKind::AwsSqs(typed(c)?),
            ("AWS_EVENTBRIDGE", Some(c)) => DestinationKind::AwsEventbridge(typed(c)?),
            ("REDIS_STREAM", Some(c)) => DestinationKind::RedisStream(typed(c)?),
            _ => DestinationKind::Http,
        };
        kind.check().map_err(|e| ConfigError {
            field: format!("config.{}", e.field),
            message: e.message,
        })?;
        Ok(kind)
    }

    /// The checks serde cannot make: URL schemes, names, regions, credentials.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self {
            DestinationKind::Http | DestinationKind::MockApi | DestinationKind::Cli => Ok(()),
            DestinationKind::Rabbitmq(c) => c.check(),
            DestinationKind::Nats(c) => c.check(),
            DestinationKind::AwsSqs(c) => c.check(),
            DestinationKind::AwsEventbridge(c) => c.check(),
            DestinationKind::RedisStream(c) => c.check(),
        }
    }
}

/// One type's config, with errors at the path inside `config`.
pub(super) fn typed<T: serde::de::DeserializeOwned>(
    c: serde_json::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(c).map_err(|e| {
        let path = e.path().to_string();
        let field = match path.as_str() {
            "." | "" => "config".to_owned(),
            p => format!("config.{p}"),
        };
        invalid(&field, format!("is invalid: {}", e.into_inner()))
    })
}

fn yes() -> bool {
    true
}

/// A URL with one of `schemes` and a host.
pub(super) fn check_url(field: &str, v: &str, schemes: &[&str]) -> Result<url::Url, ConfigError> {
    let u = url::Url::parse(v).map_err(|e| invalid(field, format!("is not a valid URL ({e})")))?;
    if !schemes.contains(&u.scheme()) || u.host_str().is_none_or(str::is_empty) {
        return Err(invalid(
            field,
            format!(
                "must be a {} URL with a host (got scheme {:?})",
                schemes
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                u.scheme()
            ),
        ));
    }
    Ok(u)
}

pub(super) fn check_text(field: &str, v: &str, max: usize) -> Result<(), ConfigError> {
    if v.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if v.len() > max {
        return Err(invalid(field, format!("must be at most {max} bytes")));
    }
    if v.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// RabbitMQ (AMQP 0-9-1): publish to an exchange with a routing key; persistent
/// messages, publisher confirms, `mandatory` so an unroutable message fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RabbitMqConfig {
    /// `amqp://user:password@host:5672/vhost` (or `amqps://`).
    pub url: String,
    /// The exchange; `""` is the default exchange (the routing key names a queue).
    pub exchange: String,
    /// Default: `""`.
    #[serde(default)]
    pub routing_key: String,
    /// An unroutable message is a failed attempt (default), not silently dropped.
    #[serde(default = "yes")]
    pub mandatory: bool,
    /// Delivery mode 2: the broker writes the message to disk (default).
    #[serde(default = "yes")]
    pub persistent: bool,
}

impl RabbitMqConfig {
    fn check(&self) -> Result<(), ConfigError> {
        check_url("url", &self.url, &["amqp", "amqps"])?;
        // AMQP short strings: at most 255 bytes.
        if self.exchange.len() > 255 {
            return Err(invalid("exchange", "must be at most 255 bytes"));
        }
        if self.routing_key.len() > 255 {
            return Err(invalid("routing_key", "must be at most 255 bytes"));
        }
        if self.exchange.is_empty() && self.routing_key.is_empty() {
            return Err(invalid(
                "routing_key",
                "is required with the default exchange (\"\"): it names the queue",
            ));
        }
        Ok(())
    }
}

/// NATS JetStream: publish to a subject a stream captures; the PubAck is success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// `nats://host:4222` (or `tls://`); several servers separated by commas.
    pub url: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl NatsConfig {
    fn check(&self) -> Result<(), ConfigError> {
        for server in self.url.split(',') {
            check_url("url", server.trim(), &["nats", "tls"])?;
        }
        check_text("subject", &self.subject, 255)?;
        if self.subject.contains([' ', '*', '>']) || self.subject.split('.').any(str::is_empty) {
            return Err(invalid(
                "subject",
                "must be a concrete subject: dot-separated tokens, no spaces or wildcards",
            ));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(invalid(
                "password",
                "username and password go together (give both or neither)",
            ));
        }
        if self.token.is_some() && self.username.is_some() {
            return Err(invalid("token", "give either token or username/password"));
        }
        Ok(())
    }
}

/// Credentials and endpoint of an AWS service. Credentials absent: the standard
/// AWS chain (environment, profile, instance role).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsAccess {
    /// `us-east-1`…; absent: `AWS_REGION` / the profile (for SQS, read from the queue URL first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Another endpoint (LocalStack, moto, a VPC endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-4`.
pub fn is_aws_region(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 5
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
}

impl AwsAccess {
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(r) = &self.region {
            if !is_aws_region(r) {
                return Err(invalid(
                    "region",
                    format!("must be an AWS region such as us-east-1 (got {r:?})"),
                ));
            }
        }
        if let Some(e) = &self.endpoint_url {
            check_url("endpoint_url", e, &["http", "https"])?;
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => {
                if !(16..=128).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(invalid(
                        "access_key_id",
                        "must be 16 to 128 letters and digits (e.g. AKIA…)",
                    ));
                }
                check_text("secret_access_key", secret, 256)?;
            }
            (None, None) => {
                if self.session_token.is_some() {
                    return Err(invalid(
                        "session_token",
                        "needs access_key_id and secret_access_key",
                    ));
                }
            }
            (Some(_), None) => {
                return Err(invalid(
                    "secret_access_key",
                    "is required with access_key_id",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "access_key_id",
                    "is required with secret_access_key",
                ))
            }
        }
        Ok(())
    }
}

/// Amazon SQS, standard or FIFO (a queue URL ending in `.fifo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqsConfig {
    /// `https://sqs.<region>.amazonaws.com/<account>/<queue>`.
    pub queue_url: String,
    /// FIFO queues: the message group (ordering scope); default: the source's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
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
}

/// The region of `https://sqs.<region>.amazonaws.com/…`.
pub fn sqs_region_in_url(queue_url: &str) -> Option<String> {
    let u = url::Url::parse(queue_url).ok()?;
    let host = u.host_str()?;
    let region = host.strip_prefix("sqs.")?.split('.').next()?;
    is_aws_region(region).then(|| region.to_owned())
}

impl SqsConfig {
    pub fn access(&self) -> AwsAccess {
        AwsAccess {
            region: self
                .region
                .clone()
                .or_else(|| sqs_region_in_url(&self.queue_url)),
            endpoint_url: self.endpoint_url.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
        }
    }

    pub fn is_fifo(&self) -> bool {
        self.queue_url.trim_end_matches('/').ends_with(".fifo")
    }

    fn check(&self) -> Result<(), ConfigError> {
        let u = check_url("queue_url", &self.queue_url, &["http", "https"])?;
        if u.path_segments().is_none_or(|s| s.count() < 2) {
            return Err(invalid(
                "queue_url",
                "must be a queue URL: https://sqs.<region>.amazonaws.com/<account>/<queue>",
            ));
        }
        if let Some(g) = &self.message_group_id {
            check_text("message_group_id", g, 128)?;
            if !self.is_fifo() {
                return Err(invalid(
                    "message_group_id",
                    "is only for FIFO queues (a queue URL ending in .fifo)",
                ));
            }
        }
        self.access().check()
    }
}

/// What an EventBridge entry's `Detail` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DetailFormat {
    /// The body itself when it is a JSON object (rules match on the provider's
    /// fields); any other body is wrapped as `{"body": …}`.
    #[default]
    Body,
    /// `{"headers": {…}, "body": …, "hookyard": {event_id, request_id, …}}`.
    Envelope,
}

/// Amazon EventBridge: `PutEvents` to an event bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBridgeConfig {
    /// The bus's name or ARN.
    pub event_bus_name: String,
    /// The entries' `Source`; default: `hookyard.<source id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The entries' `DetailType`; default: the request's topic header if any
    /// (`x-github-event`, `x-shopify-topic`, `x-event-type`), else `webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub detail: DetailFormat,
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
}

impl EventBridgeConfig {
    pub fn access(&self) -> AwsAccess {
        AwsAccess {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        check_text("event_bus_name", &self.event_bus_name, 1600)?;
        if let Some(s) = &self.source {
            check_text("source", s, 256)?;
            if s.starts_with("aws.") {
                return Err(invalid(
                    "source",
                    "must not start with \"aws.\" (reserved by AWS)",
                ));
            }
        }
        if let Some(t) = &self.detail_type {
            check_text("detail_type", t, 128)?;
        }
        self.access().check()
    }
}

/// Redis Streams: `XADD` to a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisStreamConfig {
    /// `redis://[user:password@]host:6379[/db]` (or `rediss://`).
    pub url: String,
    /// The stream's key.
    pub stream: String,
    /// Trim the stream to about this many entries (`MAXLEN ~`); absent: no trim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxlen: Option<u64>,
}

impl RedisStreamConfig {
    fn check(&self) -> Result<(), ConfigError> {
        check_url("url", &self.url, &["redis", "rediss"])?;
        check_text("stream", &self.stream, 1024)?;
        if self.maxlen == Some(0) {
            return Err(invalid("maxlen", "must be at least 1 (absent: no trim)"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(t: &str, c: serde_json::Value) -> Result<DestinationKind, String> {
        DestinationKind::from_parts(t, Some(c)).map_err(|e| e.to_string())
    }

    #[test]
    fn configs_round_trip_through_type_and_config() {
        let k = parts(
            "RABBITMQ",
            json!({"url": "amqp://guest:guest@127.0.0.1:5672/%2f", "exchange": "orders"}),
        )
        .unwrap();
        assert_eq!(k.type_name(), "RABBITMQ");
        let c = k.config_json().unwrap();
        assert_eq!(c["mandatory"], true);
        assert_eq!(parts("RABBITMQ", c).unwrap(), k);
        assert_eq!(
            DestinationKind::from_parts("MOCK_API", None).unwrap(),
            DestinationKind::MockApi
        );
        assert_eq!(DestinationKind::MockApi.config_json(), None);
    }

    #[test]
    fn errors_name_the_field() {
        let e = parts("RABBITMQ", json!({"url": "amqp://h"})).unwrap_err();
        assert!(e.contains("exchange"), "{e}");
        let e = parts(
            "RABBITMQ",
            json!({"url": "amqp://h", "exchange": "x", "typo": 1}),
        )
        .unwrap_err();
        assert!(e.contains("typo"), "{e}");
        let e = parts("RABBITMQ", json!({"url": "http://h", "exchange": "x"})).unwrap_err();
        assert!(e.starts_with("config.url"), "{e}");
        let e = parts(
            "AWS_SQS",
            json!({"queue_url": "http://127.0.0.1:5000/123/q", "region": "Mars"}),
        )
        .unwrap_err();
        assert!(e.starts_with("config.region"), "{e}");
        let e = parts(
            "AWS_SQS",
            json!({"queue_url": "http://127.0.0.1:5000/123/q", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}),
        )
        .unwrap_err();
        assert!(e.starts_with("config.secret_access_key"), "{e}");
        let e = parts("NATS", json!({"url": "nats://h:4222", "subject": "a.*"})).unwrap_err();
        assert!(e.starts_with("config.subject"), "{e}");
        let e = parts("AWS_EVENTBRIDGE", json!({"event_bus_name": 3})).unwrap_err();
        assert!(e.starts_with("config.event_bus_name"), "{e}");
        let e = DestinationKind::from_parts("KAFKA", None).unwrap_err();
        assert!(e.to_string().starts_with("type must be one of"), "{e}");
        let e = DestinationKind::from_parts("NATS", None).unwrap_err();
        assert_eq!(e.field, "config");
    }

    #[test]
    fn regions_and_fifo_queues() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert!(is_aws_region(ok), "{ok}");
        }
        for bad in ["", "us", "US-EAST-1", "us-east", "us_east_1", "us-east-1a"] {
            assert!(!is_aws_region(bad), "{bad}");
        }
        let c = SqsConfig {
            queue_url: "https://sqs.eu-west-3.amazonaws.com/123/orders.fifo".into(),
            message_group_id: None,
            region: None,
            endpoint_url: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
        };
        assert!(c.is_fifo());
        assert_eq!(c.access().region.as_deref(), Some("eu-west-3"));
    }
}
