//! What the edge Worker hands delivery: the queue message (an envelope, its body
//! inline or in R2), and the HMAC-signed batch the queue consumer POSTs to
//! delivery's `/edge/batch` with the per-message answer delivery gives.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::ingest::AdmissionRules;
use crate::verify::mac::{self, Algorithm, Encoding};
use crate::verify::{Verification, VerifyError};

/// What the Worker knows about sources: the `HOOKYARD_SOURCES` secret, written by
/// `hookyard edge config` from delivery's sources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Largest body of a source that sets none (delivery's `ingest.max_body_bytes`).
    pub max_body_bytes: u64,
    /// Status answered to webhooks for a disabled source.
    #[serde(default = "default_disabled_status")]
    pub disabled_source_status: u16,
    /// By source name.
    pub sources: BTreeMap<String, EdgeSource>,
}

fn default_disabled_status() -> u16 {
    403
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSource {
    /// Uppercase methods accepted.
    pub allowed_http_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_response: Option<EdgeCustomResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(default)]
    pub disabled: bool,
}

impl EdgeSource {
    /// How the Worker admits webhooks for this source (named `name` in `config`).
    pub fn admission_rules<'c>(&'c self, name: &'c str, config: &EdgeConfig) -> AdmissionRules<'c> {
        AdmissionRules {
            source: name,
            allowed_methods: &self.allowed_http_methods,
            max_body_bytes: self.max_body_bytes.unwrap_or(config.max_body_bytes),
            verification: self.verification.as_ref(),
            disabled: self.disabled,
            disabled_status: config.disabled_source_status,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeCustomResponse {
    /// The `Content-Type` sent.
    pub content_type: String,
    pub body: String,
}

/// Cloudflare Queues refuses messages above 128 KB.
pub const QUEUE_MESSAGE_LIMIT: usize = 128 * 1024;
/// Above this size (the JSON text) the body moves to R2; the rest of the message
/// (headers, ids, the JSON of the wrapper) then stays far below the limit.
pub const INLINE_MESSAGE_MAX: usize = 120 * 1024;

/// One message on the ingest queue (sent as a JSON string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub envelope: Envelope,
    /// Set when the body was too large for the queue: the R2 object key holding it
    /// (the envelope's `body` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_ref: Option<String>,
}

/// The body the consumer POSTs to delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub messages: Vec<BatchItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// Complete, body included (the consumer reads referenced bodies from R2).
    pub envelope: Envelope,
    /// Sent from the dead-letter queue's consumer: the main consumer gave up on it.
    #[serde(default)]
    pub dead_lettered: bool,
}

/// Delivery's answer: one result per message, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub results: Vec<ItemResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The envelope id.
    pub id: String,
    pub status: ItemStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Committed (now, or by an earlier delivery of the same envelope): ack it.
    Stored,
    /// Not stored: retry it later.
    Failed,
}

/// Header with the batch's Unix timestamp in seconds.
pub const TIMESTAMP_HEADER: &str = "x-hookyard-timestamp";
/// Header with `v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`.
pub const SIGNATURE_HEADER: &str = "x-hookyard-signature";
/// How far a batch's timestamp may be from delivery's clock.
pub const BATCH_TOLERANCE_SECS: i64 = 300;

/// The signature header value for a batch body sent at `ts`.
pub fn sign_batch(secret: &str, ts: i64, body: &[u8]) -> String {
    let t = ts.to_string();
    let sig = mac::sign(
        Algorithm::Sha256,
        secret.as_bytes(),
        &[t.as_bytes(), b".", body],
    );
    format!("v1={}", Encoding::Hex.encode(&sig))
}

/// Checks a batch's timestamp and signature headers against any of `secrets`.
pub fn verify_batch<'s>(
    secrets: impl IntoIterator<Item = &'s str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let ts_text = timestamp.ok_or(VerifyError::MissingHeader(TIMESTAMP_HEADER))?;
    let sig = signature.ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
    let ts: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| VerifyError::Malformed(TIMESTAMP_HEADER))?;
    let sig = sig
        .trim()
        .strip_prefix("v1=")
        .and_then(|h| Encoding::Hex.decode(h))
        .ok_or(VerifyError::Malformed(SIGNATURE_HEADER))?;
    crate::verify::check_fresh(ts, now_secs, BATCH_TOLERANCE_SECS)?;
    let parts: [&[u8]; 3] = [ts_text.trim().as_bytes(), b".", body];
    let keys = secrets.into_iter().map(str::as_bytes);
    if mac::any_matches(Algorithm::Sha256, keys, &parts, &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_batch_verifies_and_a_changed_or_old_one_does_not() {
        let body = br#"{"messages":[]}"#;
        let sig = sign_batch("s3cret", 1_000, body);
        let ok = verify_batch(["old", "s3cret"], Some("1000"), Some(&sig), body, 1_100);
        assert_eq!(ok, Ok(()));
        let tampered = verify_batch(["s3cret"], Some("1000"), Some(&sig), b"{}", 1_100);
        assert_eq!(tampered, Err(VerifyError::Mismatch));
        let stale = verify_batch(["s3cret"], Some("1000"), Some(&sig), body, 2_000);
        assert_eq!(stale, Err(VerifyError::Stale(BATCH_TOLERANCE_SECS)));
        let unsigned = verify_batch(["s3cret"], Some("1000"), None, body, 1_100);
        assert_eq!(unsigned, Err(VerifyError::MissingHeader(SIGNATURE_HEADER)));
        let wrong_key = verify_batch(["other"], Some("1000"), Some(&sig), body, 1_100);
        assert_eq!(wrong_key, Err(VerifyError::Mismatch));
    }
}
