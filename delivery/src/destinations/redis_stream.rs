//! `REDIS_STREAM`: `XADD` to a stream (the redis crate's ConnectionManager, which
//! reconnects by itself). Each entry has the fields `event_id`, `request_id`,
//! `attempt`, `headers` (a JSON object) and `body` (the bytes as delivered);
//! Redis gives entries its own ids, so consumers de-duplicate on `event_id`.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::ErrorKind;
use serde_json::json;

use super::pool::{self, within, Client, Clients};
use super::{message, reach, Adapter, BrokerSettings, Delivery, DeliveryResult};
use crate::egress::redact;
use crate::model::{DestinationKind, RedisStreamConfig};

pub struct Link {
    connection: ConnectionManager,
}

impl Client for Link {}

pub struct RedisStreamAdapter {
    settings: BrokerSettings,
    clients: Clients<Link>,
}

impl RedisStreamAdapter {
    pub fn new(settings: BrokerSettings) -> Self {
        RedisStreamAdapter {
            settings,
            clients: Clients::default(),
        }
    }

    async fn connect(&self, c: &RedisStreamConfig) -> Result<Link, DeliveryResult> {
        reach::check(&self.settings.egress, &c.url).await?;
        let client = redis::Client::open(c.url.as_str())
            .map_err(|e| DeliveryResult::permanent("UNKNOWN", redact::urls_in(&e.to_string())))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.settings.timeout))
            .set_response_timeout(Some(self.settings.timeout))
            .set_number_of_retries(1);
        let connection = within(self.settings.timeout, "connecting to Redis", async {
            client
                .get_connection_manager_with_config(config)
                .await
                .map_err(classify)
        })
        .await?;
        Ok(Link { connection })
    }
}

/// Errors retrying cannot fix (the key is not a stream, the user may not write
/// it, the password is wrong) are permanent; the rest (connection lost, server
/// loading or out of memory) are retried.
pub(crate) fn classify(e: redis::RedisError) -> DeliveryResult {
    let text = format!("Redis: {}", redact::urls_in(&e.to_string()));
    if e.is_connection_refusal() {
        return DeliveryResult::error("CONNECTION_REFUSED", text);
    }
    if e.is_timeout() {
        return DeliveryResult::error("TIMEOUT", text);
    }
    if e.is_io_error() {
        return DeliveryResult::error("SOCKET_CLOSED", text);
    }
    match (e.kind(), e.code()) {
        (ErrorKind::AuthenticationFailed, _) | (_, Some("NOPERM" | "NOAUTH" | "WRONGPASS")) => {
            DeliveryResult::permanent("PERMISSION_DENIED", text)
        }
        (_, Some("WRONGTYPE")) => DeliveryResult::permanent(
            "BROKER_REFUSED",
            format!("{text} (the key holds another type than a stream)"),
        ),
        (_, Some("OOM")) => DeliveryResult::error("THROTTLED", text),
        (ErrorKind::InvalidClientConfig | ErrorKind::Parse, _) => {
            DeliveryResult::permanent("UNKNOWN", text)
        }
        _ => DeliveryResult::error("BROKER_ERROR", text),
    }
}

#[async_trait]
impl Adapter for RedisStreamAdapter {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult {
        let DestinationKind::RedisStream(c) = &d.destination.kind else {
            return DeliveryResult::permanent("UNKNOWN", "not a Redis stream destination");
        };
        let target = format!("{}#{}", redact::url_text(&c.url), c.stream);
        let key = pool::key(d.destination);
        let link = match self.clients.get(&key, self.connect(c)).await {
            Ok(link) => link,
            Err(e) => return e.at(&target),
        };
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&c.stream);
        if let Some(n) = c.maxlen {
            cmd.arg("MAXLEN").arg("~").arg(n);
        }
        cmd.arg("*")
            .arg("event_id")
            .arg(d.event_id)
            .arg("request_id")
            .arg(&d.request.id)
            .arg("attempt")
            .arg(d.attempt_number)
            .arg("headers")
            .arg(message::headers_json(d))
            .arg("body")
            .arg(message::body(d));
        let mut connection = link.connection.clone();
        let added = within(self.settings.timeout, "XADD", async {
            cmd.query_async::<String>(&mut connection)
                .await
                .map_err(classify)
        })
        .await;
        match added {
            Ok(id) => DeliveryResult::accepted(
                target,
                json!({ "stream": c.stream, "id": id, "event_id": d.event_id }),
            ),
            Err(e) => e.at(&target),
        }
    }
}
