//! `NATS`: JetStream publish (async-nats). One client per destination; the
//! stream's PubAck is the success, and `Nats-Msg-Id` is the event id, so a
//! retried event the stream already stored is de-duplicated by JetStream.

use std::sync::Arc;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::{ConnectErrorKind, HeaderMap};
use async_trait::async_trait;
use serde_json::json;

use super::pool::{self, within, Client, Clients};
use super::{message, reach, Adapter, BrokerSettings, Delivery, DeliveryResult};
use crate::egress::redact;
use crate::model::{DestinationKind, NatsConfig};

pub struct Link {
    jetstream: async_nats::jetstream::Context,
    client: async_nats::Client,
}

impl Client for Link {
    fn close(self: Arc<Self>) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            rt.spawn(async move {
                let _ = client.drain().await;
            });
        }
    }
}

pub struct NatsAdapter {
    settings: BrokerSettings,
    clients: Clients<Link>,
}

impl NatsAdapter {
    pub fn new(settings: BrokerSettings) -> Self {
        NatsAdapter {
            settings,
            clients: Clients::default(),
        }
    }

    async fn connect(&self, c: &NatsConfig) -> Result<Link, DeliveryResult> {
        let servers: Vec<&str> = c.url.split(',').map(str::trim).collect();
        for s in &servers {
            reach::check(&self.settings.egress, s).await?;
        }
        let mut options = async_nats::ConnectOptions::new()
            .name(concat!("hookyard/", env!("CARGO_PKG_VERSION")))
            .connection_timeout(self.settings.timeout);
        if let Some(token) = &c.token {
            options = options.token(token.clone());
        }
        if let (Some(u), Some(p)) = (&c.username, &c.password) {
            options = options.user_and_password(u.clone(), p.clone());
        }
        let connect = async {
            options
                .connect(servers.as_slice())
                .await
                .map_err(|e| match e.kind() {
                    ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                        DeliveryResult::permanent("PERMISSION_DENIED", format!("NATS: {e}"))
                    }
                    ConnectErrorKind::ServerParse => {
                        DeliveryResult::permanent("UNKNOWN", format!("NATS: {e}"))
                    }
                    ConnectErrorKind::Dns => {
                        DeliveryResult::error("DNS_LOOKUP_FAILED", format!("NATS: {e}"))
                    }
                    ConnectErrorKind::TimedOut => {
                        DeliveryResult::error("TIMEOUT", format!("NATS: {e}"))
                    }
                    ConnectErrorKind::Tls => {
                        DeliveryResult::error("SSL_ERROR_CA_UNKNOWN", format!("NATS: {e}"))
                    }
                    ConnectErrorKind::Io | ConnectErrorKind::MaxReconnects => {
                        DeliveryResult::error("CONNECTION_REFUSED", format!("NATS: {e}"))
                    }
                })
        };
        let client = within(self.settings.timeout, "connecting to NATS", connect).await?;
        let mut jetstream = async_nats::jetstream::new(client.clone());
        jetstream.set_timeout(self.settings.timeout);
        Ok(Link { jetstream, client })
    }
}

/// The message's NATS headers. `Nats-*` headers are JetStream's instructions
/// (`Nats-Rollup` purges a subject, `Nats-Expected-*` makes the publish fail,
/// `Nats-TTL`…): a provider's are dropped, whoever sent them, so the internet
/// cannot steer the stream; only our `Nats-Msg-Id` is set.
fn headers(d: &Delivery<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in message::headers(d) {
        if k.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("nats-")) {
            continue;
        }
        // NATS headers are lines: a name or value with a line break would end it.
        if !k.contains(['\r', '\n', ':', ' ']) && !v.contains(['\r', '\n']) {
            h.append(k.as_str(), v.as_str());
        }
    }
    h.insert("Nats-Msg-Id", d.event_id);
    h
}

fn publish_error(e: async_nats::jetstream::context::PublishError, subject: &str) -> DeliveryResult {
    let text = format!("NATS JetStream: {e}");
    match e.kind() {
        PublishErrorKind::StreamNotFound => DeliveryResult::permanent(
            "NOT_FOUND",
            format!("no JetStream stream captures subject {subject:?} ({text})"),
        ),
        PublishErrorKind::MaxPayloadExceeded => DeliveryResult::permanent("MESSAGE_REJECTED", text),
        PublishErrorKind::TimedOut => DeliveryResult::error("TIMEOUT", text),
        PublishErrorKind::BrokenPipe => DeliveryResult::error("SOCKET_CLOSED", text),
        PublishErrorKind::MaxAckPending => DeliveryResult::error("THROTTLED", text),
        _ => {
            let lower = text.to_ascii_lowercase();
            if lower.contains("permission") || lower.contains("authorization") {
                DeliveryResult::permanent("PERMISSION_DENIED", text)
            } else {
                DeliveryResult::error("BROKER_ERROR", text)
            }
        }
    }
}

#[async_trait]
impl Adapter for NatsAdapter {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult {
        let DestinationKind::Nats(c) = &d.destination.kind else {
            return DeliveryResult::permanent("UNKNOWN", "not a NATS destination");
        };
        let target = format!("{}#{}", redact::url_text(&c.url), c.subject);
        let key = pool::key(d.destination);
        let link = match self.clients.get(&key, self.connect(c)).await {
            Ok(link) => link,
            Err(e) => return e.at(&target),
        };
        let body = bytes::Bytes::copy_from_slice(message::body(d));
        let sent = within(
            self.settings.timeout,
            "waiting for the JetStream ack",
            async {
                let ack = link
                    .jetstream
                    .publish_with_headers(c.subject.clone(), headers(d), body)
                    .await
                    .map_err(|e| publish_error(e, &c.subject))?;
                ack.await.map_err(|e| publish_error(e, &c.subject))
            },
        )
        .await;
        match sent {
            Ok(ack) => DeliveryResult::accepted(
                target,
                json!({
                    "stream": ack.stream,
                    "sequence": ack.sequence,
                    "duplicate": ack.duplicate,
                    "message_id": d.event_id,
                }),
            ),
            // The client reconnects by itself (a message it buffered while
            // disconnected and sends later is de-duplicated by its Nats-Msg-Id
            // when the retry comes); it is kept.
            Err(e) => e.at(&target),
        }
    }
}
