//! The queue consumer's decisions: which messages delivery stored (ack) and which
//! to retry, and how long to wait before a retry.

use std::collections::HashMap;

use hookyard_core::edge::{BatchResponse, ItemStatus};

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
