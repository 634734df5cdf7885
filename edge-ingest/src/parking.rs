//! Parking: the dead-letter queue's consumer never lets a webhook go. What it
//! cannot hand to delivery it writes to R2 under [`PARKED_PREFIX`] (the queue
//! message as it was, its large body staying where the fetch handler put it)
//! before it acks; parked webhooks are pushed again by the scheduled handler,
//! and by the dead-letter consumer as soon as a push of its own succeeds, and
//! deleted only once delivery says it stored them. Parking raises an alert, at
//! most one per interval however many runs park during an outage.

use serde_json::json;

/// Where parked queue messages live in the Worker's R2 bucket.
pub const PARKED_PREFIX: &str = "parked/";

/// The R2 key of a parked webhook (its request id keeps keys unique and makes
/// parking the same message twice harmless).
pub fn parked_key(request_id: &str) -> String {
    format!("{PARKED_PREFIX}{request_id}")
}

/// Where the time of the last parking alert is kept (R2, shared by all isolates).
pub const ALERT_STATE_KEY: &str = "state/parking-alert";

/// Shortest time between two parking alerts, by default (`PARKING_ALERT_INTERVAL_SECONDS`).
pub const DEFAULT_ALERT_INTERVAL_SECONDS: u32 = 900;

/// Whether a parking run alerts: the first one, or one an interval after the last alert.
pub fn alert_due(last_sent_ms: Option<i64>, now_ms: i64, interval_ms: i64) -> bool {
    match last_sent_ms {
        Some(last) => now_ms.saturating_sub(last) >= interval_ms,
        None => true,
    }
}

/// What the Worker POSTs to `ALERT_WEBHOOK_URL` when it parks webhooks: a `text`
/// that Slack-compatible incoming webhooks show as is, and the details for
/// anything else that reads JSON.
pub fn parked_alert(queue: &str, request_ids: &[&str], oldest_received_at_ms: i64) -> String {
    let n = request_ids.len();
    let text = format!(
        "Hookyard edge: {n} webhook{} could not be handed to delivery after the \
         dead-letter queue's tries and {} parked in R2 (under {PARKED_PREFIX}). \
         They are pushed again once delivery answers; nothing is dropped. \
         Check that delivery is up and reachable at DELIVERY_URL. While parking \
         goes on, the next alert comes after the alert interval.",
        if n == 1 { "" } else { "s" },
        if n == 1 { "is" } else { "are" },
    );
    json!({
        "text": text,
        "event": "edge.parked",
        "queue": queue,
        "count": n,
        "request_ids": request_ids,
        "oldest_received_at_ms": oldest_received_at_ms,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alert_per_interval() {
        assert!(alert_due(None, 0, 900_000));
        assert!(!alert_due(Some(1_000), 900_999, 900_000));
        assert!(alert_due(Some(1_000), 901_000, 900_000));
        assert!(alert_due(Some(5_000), 5_000, 0));
    }

    #[test]
    fn the_alert_names_the_count_and_the_ids() {
        let a: serde_json::Value =
            serde_json::from_str(&parked_alert("q-dlq", &["req_1", "req_2"], 5)).unwrap();
        assert_eq!(a["count"], 2);
        assert_eq!(a["event"], "edge.parked");
        assert_eq!(a["request_ids"][1], "req_2");
        assert!(a["text"].as_str().unwrap().contains("2 webhooks"));
        assert_eq!(parked_key("req_1"), "parked/req_1");
    }
}
