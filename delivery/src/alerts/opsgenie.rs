//! Sends alerts to Opsgenie's Alert API: `POST {base}/v2/alerts` (aliased by
//! the issue) when an issue alerts, `POST {base}/v2/alerts/{alias}/close
//! ?identifierType=alias` when it ends, authorized with `GenieKey <key>`.
//! Opsgenie answers 202 `{result, took, requestId}` and processes the request
//! afterwards.

use reqwest::header::HeaderValue;
use serde_json::{json, Value};

use super::incident::{post_json, truncate, Action, Incident, IncidentError};
use crate::egress::EgressPolicy;

/// Opsgenie's limits: it refuses longer fields rather than cut them.
const MESSAGE_MAX: usize = 130;
const DESCRIPTION_MAX: usize = 15_000;

fn fail(message: String) -> IncidentError {
    IncidentError::Failed {
        service: "Opsgenie",
        message,
    }
}

/// The body of the create request for `i`.
pub fn create_body(i: &Incident) -> Value {
    json!({
        "message": truncate(&i.summary, MESSAGE_MAX),
        "alias": i.key,
        "description": truncate(&i.description, DESCRIPTION_MAX),
        "details": i.details_json(),
        "entity": i.source,
        "priority": i.severity.opsgenie_priority(),
        "source": "Hookyard",
    })
}

/// The URL that opens (`/v2/alerts`) or closes (`/v2/alerts/{alias}/close`) `i`.
pub fn url(base: &str, i: &Incident) -> Result<url::Url, IncidentError> {
    let mut u = url::Url::parse(&format!("{}/v2/alerts", base.trim_end_matches('/')))
        .map_err(|e| fail(format!("the Opsgenie base URL is not a URL: {e}")))?;
    if i.action == Action::Resolve {
        // The alias goes in the path: pushed as a segment, so it is escaped.
        u.path_segments_mut()
            .map_err(|()| fail("the Opsgenie base URL cannot have a path".into()))?
            .push(&i.key)
            .push("close");
        u.query_pairs_mut().append_pair("identifierType", "alias");
    }
    Ok(u)
}

/// Sends `i` to the Alert API at `base` (`alerts.opsgenie_url` or
/// `alerts.opsgenie_eu_url`, by the channel's region).
pub async fn send(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    base: &str,
    api_key: &str,
    i: &Incident,
) -> Result<(), IncidentError> {
    let mut auth = HeaderValue::from_str(&format!("GenieKey {api_key}"))
        .map_err(|_| fail("the API key cannot be sent in a header".into()))?;
    auth.set_sensitive(true);
    let body = match i.action {
        Action::Open => create_body(i),
        Action::Resolve => json!({
            "source": "Hookyard",
            "note": truncate(&i.summary, 25_000),
        }),
    };
    post_json(client, egress, "Opsgenie", url(base, i)?, Some(auth), &body).await
}
