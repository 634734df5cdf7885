//! What the edge Worker and delivery exchange: the queue message (an envelope, its
//! body inline or in R2), the HMAC-signed batch the queue consumer POSTs to
//! delivery's `/edge/batch` with the per-message answer delivery gives, and (in
//! [`config`]) the source configuration the Worker fetches from delivery.

mod config;

pub use config::*;

use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::verify::mac::{self, Algorithm, Encoding};
use crate::verify::VerifyError;

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

/// One POST's worth of a batch: the JSON text of a [`Batch`] of `items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBatch {
    /// Which of the items given it holds.
    pub items: std::ops::Range<usize>,
    pub body: String,
}

/// `items` as [`Batch`] bodies of at most `max_bytes` each, in order. An item that
/// alone is larger goes alone (delivery refuses it with 413 and the queue retries
/// it until its dead-letter queue; the others are not held back by it).
pub fn encode_batches<'a>(
    items: impl IntoIterator<Item = &'a BatchItem>,
    max_bytes: usize,
) -> Result<Vec<EncodedBatch>, serde_json::Error> {
    const OPEN: &str = r#"{"messages":["#;
    const CLOSE: &str = "]}";
    let mut out = Vec::new();
    let mut body = String::from(OPEN);
    let mut start = 0;
    let mut count = 0;
    for (i, item) in items.into_iter().enumerate() {
        count = i + 1;
        let json = serde_json::to_string(item)?;
        let comma = usize::from(i > start);
        if i > start && body.len() + comma + json.len() + CLOSE.len() > max_bytes {
            body.push_str(CLOSE);
            out.push(EncodedBatch {
                items: start..i,
                body: std::mem::replace(&mut body, String::from(OPEN)),
            });
            start = i;
        } else if comma == 1 {
            body.push(',');
        }
        body.push_str(&json);
    }
    if start < count {
        body.push_str(CLOSE);
        out.push(EncodedBatch {
            items: start..count,
            body,
        });
    }
    Ok(out)
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

/// The signature of the edge channel (batches, configuration requests and answers):
/// `v1=<hex HMAC-SHA256 of "{ts}." followed by parts>` under the shared secret
/// (delivery's `edge.batch_secret`, the Worker's `BATCH_SECRET`).
pub(crate) fn sign_channel(secret: &str, ts: i64, parts: &[&[u8]]) -> String {
    let t = ts.to_string();
    let mut all: Vec<&[u8]> = vec![t.as_bytes(), b"."];
    all.extend_from_slice(parts);
    let sig = mac::sign(Algorithm::Sha256, secret.as_bytes(), &all);
    format!("v1={}", Encoding::Hex.encode(&sig))
}

/// Checks a timestamp and signature made by [`sign_channel`] against any of `secrets`.
pub(crate) fn verify_channel<'s>(
    secrets: impl IntoIterator<Item = &'s str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    parts: &[&[u8]],
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
    let mut all: Vec<&[u8]> = vec![ts_text.trim().as_bytes(), b"."];
    all.extend_from_slice(parts);
    let keys = secrets.into_iter().map(str::as_bytes);
    if mac::any_matches(Algorithm::Sha256, keys, &all, &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The signature header value for a batch body sent at `ts`.
pub fn sign_batch(secret: &str, ts: i64, body: &[u8]) -> String {
    sign_channel(secret, ts, &[body])
}

/// Checks a batch's timestamp and signature headers against any of `secrets`.
pub fn verify_batch<'s>(
    secrets: impl IntoIterator<Item = &'s str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    verify_channel(secrets, timestamp, signature, &[body], now_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, body_len: usize) -> BatchItem {
        BatchItem {
            envelope: Envelope {
                id: id.into(),
                source: "s".into(),
                received_at_ms: 1,
                method: "POST".into(),
                path: "/".into(),
                query: String::new(),
                headers: vec![("content-type".into(), "text/plain".into())],
                body: vec![b'x'; body_len],
            },
            dead_lettered: false,
        }
    }

    #[test]
    fn batches_are_split_to_fit_and_keep_every_item_in_order() {
        let items: Vec<BatchItem> = (0..40)
            .map(|i| item(&format!("req_{i}"), (i % 7) * 2000))
            .collect();
        let max = 20_000;
        let batches = encode_batches(&items, max).unwrap();
        assert!(batches.len() > 1);
        let mut next = 0;
        for b in &batches {
            assert_eq!(b.items.start, next);
            next = b.items.end;
            // Only an item too large on its own goes over.
            assert!(
                b.body.len() <= max || b.items.len() == 1,
                "{} bytes in {:?}",
                b.body.len(),
                b.items
            );
            let decoded: Batch = serde_json::from_str(&b.body).unwrap();
            assert_eq!(decoded.messages, items[b.items.clone()]);
        }
        assert_eq!(next, items.len());
    }

    #[test]
    fn an_item_larger_than_the_limit_goes_alone() {
        let items = vec![item("a", 10), item("big", 50_000), item("c", 10)];
        let batches = encode_batches(&items, 10_000).unwrap();
        let ranges: Vec<_> = batches.iter().map(|b| b.items.clone()).collect();
        assert_eq!(ranges, vec![0..1, 1..2, 2..3]);
        assert!(encode_batches(&[], 10).unwrap().is_empty());
        // One batch when all fit: the same text serde gives the whole batch.
        let small = vec![item("a", 10), item("b", 10)];
        let one = encode_batches(&small, 1 << 20).unwrap();
        let whole = serde_json::to_string(&Batch { messages: small }).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].body, whole);
    }

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
