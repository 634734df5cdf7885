//! The queue consumer's decisions: how much to read before pushing, which
//! messages delivery stored (ack) and which to retry, and how long to wait
//! before a retry.

use std::collections::HashMap;

use hookyard_core::edge::{BatchResponse, ItemStatus};
use hookyard_core::envelope::Envelope;

/// Bodies read from R2 before the consumer pushes what it holds: a batch of a
/// hundred 10 MiB webhooks is read and pushed a few at a time, so the isolate's
/// 128 MB is never approached (a push's JSON text is about 4/3 of this again).
pub const READ_BUDGET_BYTES: usize = 16 * 1024 * 1024;

/// About what an envelope weighs in a push: its body in base64 plus the rest.
pub fn push_weight(envelope: &Envelope, body_len: usize) -> usize {
    let headers: usize = envelope
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 8)
        .sum();
    body_len.div_ceil(3) * 4 + headers + envelope.path.len() + envelope.query.len() + 256
}

/// Delay before the next try of a message first received `age_secs` ago: as long
/// as it has already waited, within `[min, max]`. Cloudflare's `Message` in
/// workers-rs does not expose its attempt count, and the age grows the same way:
/// a message that keeps failing is tried at roughly doubling intervals.
pub fn retry_delay(age_secs: i64, min: u32, max: u32) -> u32 {
    let age = age_secs.clamp(0, i64::from(u32::MAX)) as u32;
    age.clamp(min, max.max(min))
}

/// For each envelope id sent, whether delivery stored it. Ids delivery did not
/// answer for count as not stored.
pub fn stored_ids(response: &BatchResponse) -> HashMap<&str, bool> {
    response
        .results
        .iter()
        .map(|r| (r.id.as_str(), r.status == ItemStatus::Stored))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookyard_core::edge::ItemResult;

    #[test]
    fn delays_grow_with_age_within_bounds() {
        assert_eq!(retry_delay(0, 5, 900), 5);
        assert_eq!(retry_delay(-3, 5, 900), 5);
        assert_eq!(retry_delay(60, 5, 900), 60);
        assert_eq!(retry_delay(100_000, 5, 900), 900);
        assert_eq!(retry_delay(10, 5, 1), 5);
    }

    #[test]
    fn the_weight_counts_the_body_in_base64() {
        let e = Envelope {
            id: "req_1".into(),
            source: "s".into(),
            received_at_ms: 1,
            method: "POST".into(),
            path: "/p".into(),
            query: String::new(),
            headers: vec![("a".into(), "b".into())],
            body: vec![],
        };
        let w = push_weight(&e, 3 * 1024 * 1024);
        let item = hookyard_core::edge::BatchItem {
            envelope: Envelope {
                body: vec![7; 3 * 1024 * 1024],
                ..e
            },
            dead_lettered: true,
        };
        let real = serde_json::to_string(&item).unwrap().len();
        assert!(w >= real && w < real + 1024, "{w} vs {real}");
    }

    #[test]
    fn only_stored_results_are_acked() {
        let r = BatchResponse {
            results: vec![
                ItemResult {
                    id: "a".into(),
                    status: ItemStatus::Stored,
                    message: None,
                },
                ItemResult {
                    id: "b".into(),
                    status: ItemStatus::Failed,
                    message: Some("x".into()),
                },
            ],
        };
        let ids = stored_ids(&r);
        assert_eq!(ids.get("a"), Some(&true));
        assert_eq!(ids.get("b"), Some(&false));
        assert_eq!(ids.get("c"), None);
    }
}
