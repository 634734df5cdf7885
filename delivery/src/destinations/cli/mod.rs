//! CLI destinations: events go over the WebSocket of a connected `hookyard
//! listen` ([`listeners`]), which sends them to the developer's local target and
//! answers with what it said; the answer is the attempt. With no CLI connected
//! for an event, the event is not attempted at all: it stays in the store and is
//! leased when one connects.
//!
//! - [`protocol`]: the messages on the WebSocket.
//! - [`listeners`]: the connected sessions and which one an event goes to.
//! - [`socket`]: one session's WebSocket (heartbeats, answers).

pub mod listeners;
pub mod protocol;
pub mod socket;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{http, message, Adapter, Delivery, DeliveryResult};
use crate::model::AuthMethod;
use listeners::Listeners;
use protocol::EventFrame;

/// Waiting for the CLI beyond the local target's own timeout: the answer crosses
/// the network twice.
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

pub struct CliAdapter {
    pub listeners: Arc<Listeners>,
    /// How long the local target may take (`delivery.timeout_ms`).
    timeout: Duration,
    body_limit: usize,
}

impl CliAdapter {
    pub fn new(listeners: Arc<Listeners>, timeout: Duration, body_limit: usize) -> Self {
        CliAdapter {
            listeners,
            timeout,
            body_limit,
        }
    }

    /// What the local target gets, as an HTTP destination would send it: the
    /// method, `cli_path` plus the forwarded path and query, the headers with our
    /// ids and the destination's signature or credentials, and the body.
    fn frame(
        &self,
        d: &Delivery<'_>,
        id: u64,
    ) -> Result<(EventFrame, Vec<u8>), Box<DeliveryResult>> {
        let dest = d.destination;
        let base = format!(
            "http://cli.invalid{}",
            dest.cli_path.as_deref().unwrap_or("/")
        );
        let forwarded = (!dest.path_forwarding_disabled).then_some(d.request.path.as_str());
        let url = http::join(&base, forwarded, &d.request.query)
            .map_err(|e| Box::new(DeliveryResult::error(e.code(), e.to_string())))?;
        let method_name = dest
            .http_method
            .clone()
            .unwrap_or_else(|| d.request.method.clone());
        let method = reqwest::Method::from_bytes(method_name.as_bytes()).map_err(|_| {
            DeliveryResult::error("UNKNOWN", format!("invalid method {method_name}"))
        })?;
        let mut headers = message::headers(d);
        headers.push(("idempotency-key".to_owned(), d.event_id.to_owned()));
        // Signatures and credentials are made as for HTTP, on a request that is
        // never sent; OAuth2 is refused on CLI destinations when they are saved.
        let mut req = reqwest::Request::new(method, url);
        *req.body_mut() = Some(d.request.body.clone().unwrap_or_default().into());
        if let Some(auth) = dest
            .auth_method
            .as_ref()
            .filter(|a| !matches!(a, AuthMethod::OAuth2ClientCredentials(_)))
        {
            let now_secs = crate::clock::now_ms() / 1000;
            http::apply_auth(&mut req, Some(auth), d.event_id, now_secs)
                .map_err(|e| Box::new(DeliveryResult::error("UNKNOWN", e)))?;
            for (k, v) in req.headers() {
                let k = k.as_str();
                headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                headers.push((
                    k.to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                ));
            }
        }
        let url = req.url();
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let frame = EventFrame {
            id,
            event_id: d.event_id.to_owned(),
            request_id: d.request.id.clone(),
            connection_id: d.connection_id.to_owned(),
            attempt: d.attempt_number,
            method: method_name,
            path,
            headers,
            timeout_ms: self.timeout.as_millis() as u64,
            response_body_limit: self.body_limit,
        };
        Ok((frame, message::body(d).to_vec()))
    }
}

/// The attempt error codes a CLI may report; anything else is `CLI`.
const CODES: &[&str] = &[
    "TIMEOUT",
    "CONNECTION_REFUSED",
    "CONNECTION_RESET",
    "SOCKET_CLOSED",
    "DNS_LOOKUP_FAILED",
    "HOST_UNREACHABLE",
    "SELF_SIGNED_CERT",
    "SSL_ERROR_CA_UNKNOWN",
    "PROTOCOL_ERROR",
    "UNKNOWN",
];

#[async_trait]
impl Adapter for CliAdapter {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult {
        let Some(session) = self.listeners.pick(&d.destination.id, d.connection_id) else {
            return DeliveryResult::held(
                "CLI_UNAVAILABLE",
                "no `hookyard listen` is connected for this connection; the event waits for one",
            );
        };
        let (frame, body) = match self.frame(d, session.next_id()) {
            Ok(f) => f,
            Err(failed) => return *failed,
        };
        let method = frame.method.clone();
        let id = frame.id;
        let answer =
            tokio::time::timeout(self.timeout + ANSWER_MARGIN, session.deliver(&frame, &body))
                .await;
        let reply = match answer {
            Ok(Ok(reply)) => reply,
            Ok(Err(gone)) => return DeliveryResult::held("CLI_UNAVAILABLE", gone.to_string()),
            Err(_) => {
                session.forget(id);
                return DeliveryResult {
                    http_method: Some(method),
                    ..DeliveryResult::error(
                        "TIMEOUT",
                        format!(
                            "the CLI ({}) did not answer within {} ms",
                            session.client,
                            (self.timeout + ANSWER_MARGIN).as_millis()
                        ),
                    )
                };
            }
        };
        let r = reply.frame;
        let mut body = reply.body.to_vec();
        body.truncate(self.body_limit);
        let error_code = r
            .error_code
            .as_deref()
            .map(|c| CODES.iter().copied().find(|k| *k == c).unwrap_or("CLI"));
        DeliveryResult {
            success: r.status.is_some_and(|s| (200..300).contains(&s)) && error_code.is_none(),
            response_status: r.status,
            retry_after_ms: r.headers.iter().find_map(|(k, v)| {
                let now = u64::try_from(crate::clock::now_ms()).unwrap_or(0);
                k.eq_ignore_ascii_case("retry-after")
                    .then(|| hookyard_core::backoff::parse_retry_after(v, now))
                    .flatten()
            }),
            response_headers: r.status.map(|_| {
                r.headers
                    .into_iter()
                    .take(200)
                    .map(|(k, v)| (bounded(&k, 200), bounded(&v, 8192)))
                    .collect()
            }),
            response_body: r
                .status
                .map(|_| String::from_utf8_lossy(&body).into_owned()),
            error_code,
            // What a CLI reports is stored and shown: bounded, like any input.
            error_message: r.error_message.map(|m| bounded(&m, 2000)),
            requested_url: Some(bounded(&r.url, 2000)),
            http_method: Some(method),
            ..Default::default()
        }
    }
}

fn bounded(s: &str, max_chars: usize) -> String {
    s.chars().filter(|c| *c != '\0').take(max_chars).collect()
}
