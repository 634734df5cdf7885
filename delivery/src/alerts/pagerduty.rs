//! Sends incidents to PagerDuty's Events API v2: `POST {base}/v2/enqueue` with a
//! `trigger` event when an issue alerts and a `resolve` event, under the same
//! `dedup_key`, when it ends. PagerDuty answers 202 `{status, dedup_key, message}`.

use serde_json::{json, Value};

use super::incident::{post_json, truncate, Action, Incident, IncidentError};
use crate::clock::rfc3339;
use crate::egress::EgressPolicy;

/// PagerDuty refuses a `payload.summary` longer than this.
const SUMMARY_MAX: usize = 1024;

/// The Events API v2 event for `i`.
pub fn event(routing_key: &str, i: &Incident) -> Value {
    match i.action {
        Action::Open => {
            let mut details = i.details_json();
            if let Value::Object(m) = &mut details {
                m.insert("description".into(), json!(i.description));
            }
            let links: Vec<Value> = i
                .link
                .iter()
                .map(|(href, text)| json!({"href": href, "text": text}))
                .collect();
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": i.key,
                "payload": {
                    "summary": truncate(&i.summary, SUMMARY_MAX),
                    "source": i.source,
                    "severity": i.severity.pagerduty(),
                    "timestamp": rfc3339(i.at),
                    "custom_details": details,
                },
                "links": links,
                "client": "Hookyard",
            })
        }
        // A resolve needs only the key; PagerDuty ignores a payload on it.
        Action::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": i.key,
        }),
    }
}

/// Sends `i` to the Events API at `base` (`alerts.pagerduty_url`).
pub async fn send(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    base: &str,
    routing_key: &str,
    i: &Incident,
) -> Result<(), IncidentError> {
    let url =
        url::Url::parse(&format!("{}/v2/enqueue", base.trim_end_matches('/'))).map_err(|e| {
            IncidentError::Failed {
                service: "PagerDuty",
                message: format!("alerts.pagerduty_url is not a URL: {e}"),
            }
        })?;
    post_json(
        client,
        egress,
        "PagerDuty",
        url,
        None,
        &event(routing_key, i),
    )
    .await
}
