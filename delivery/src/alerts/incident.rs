//! What incident channels (PagerDuty, Opsgenie) are told: an incident opens when
//! an issue alerts and is resolved when the issue resolves, is dismissed or is
//! ignored. Both services de-duplicate on a key we choose; it is derived from the
//! issue id, so the resolve finds the incident the opening made, on any replica.

use std::time::Duration;

use serde_json::{json, Value};

use super::message::{IssueContext, Message};
use crate::clock::rfc3339;
use crate::egress::{redact, EgressPolicy};
use crate::model::{Destination, IssueType};

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// Never quotes the routing key or API key: the error is logged.
    #[error("{service}: {message}")]
    Failed {
        service: &'static str,
        message: String,
    },
}

/// Open (or update) the incident, or resolve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Open,
    Resolve,
}

/// How bad it is, in PagerDuty's words (Opsgenie's priority is derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Critical,
    Error,
    Warning,
}

impl Severity {
    pub fn pagerduty(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    pub fn opsgenie_priority(self) -> &'static str {
        match self {
            Severity::Critical => "P1",
            Severity::Error => "P2",
            Severity::Warning => "P3",
        }
    }
}

/// One thing to tell the incident channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// PagerDuty's `dedup_key`, Opsgenie's `alias`: the same for an issue's
    /// opening and its resolution.
    pub key: String,
    pub action: Action,
    /// One line (the alert's subject).
    pub summary: String,
    /// The alert's full text.
    pub description: String,
    /// What is affected: the destination's name, else Hookyard.
    pub source: String,
    pub severity: Severity,
    /// Unix ms: when it happened (last failure, or resolution).
    pub at: i64,
    /// Flat string fields (Opsgenie `details` takes only strings).
    pub details: Vec<(&'static str, String)>,
    /// Where to look: `(href, text)`.
    pub link: Option<(String, String)>,
}

/// The key of an issue's incident: stable across reopenings of the issue, so a
/// reopened issue opens a new incident under the same key once the old one was
/// resolved (both services allow that), and never two at once.
pub fn issue_key(issue_id: &str) -> String {
    format!("hookyard-{issue_id}")
}

/// The key of a disabled destination's incident.
pub fn disabled_key(destination_id: &str) -> String {
    format!("hookyard-disabled-{destination_id}")
}

fn issue_details(c: &IssueContext<'_>) -> Vec<(&'static str, String)> {
    let i = c.issue;
    let mut d = vec![
        ("issue_id", i.id.clone()),
        ("issue_type", i.issue_type.as_str().to_owned()),
        ("status", i.status.as_str().to_owned()),
        ("failures", i.opened_count.to_string()),
        ("first_seen_at", rfc3339(i.first_seen_at)),
        ("last_seen_at", rfc3339(i.last_seen_at)),
    ];
    let optional = [
        ("connection_id", i.connection_id.clone()),
        ("destination_id", i.destination_id.clone()),
        ("source_id", i.source_id.clone()),
        ("response_status", i.response_status.map(|s| s.to_string())),
        ("error_code", i.error_code.clone()),
        ("reference_event_id", i.reference_event_id.clone()),
    ];
    d.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    d
}

/// What is affected: the broker source of a `source` issue, else the
/// destination, else Hookyard.
fn source(c: &IssueContext<'_>) -> String {
    match (c.issue.issue_type, c.source, c.destination) {
        (IssueType::Source, Some(s), _) => s.name.clone(),
        (_, _, Some(d)) => d.name.clone(),
        _ => "Hookyard".to_owned(),
    }
}

/// The incident for an issue's alert (`Open`) or its end (`Resolve`); `m` is
/// what the email and chat channels get for the same event.
pub fn for_issue(c: &IssueContext<'_>, m: &Message, action: Action, now: i64) -> Incident {
    let i = c.issue;
    Incident {
        key: issue_key(&i.id),
        action,
        summary: m.subject.clone(),
        description: m.body.clone(),
        source: source(c),
        // A source that cannot be consumed is an error as failing deliveries
        // are: the gateway keeps trying on its own and nothing is lost in it
        // (critical is for what waits on someone, as a disabled destination).
        severity: match i.issue_type {
            IssueType::Backpressure => Severity::Warning,
            IssueType::Delivery | IssueType::Transformation | IssueType::Source => Severity::Error,
        },
        at: match action {
            Action::Open => i.last_seen_at,
            Action::Resolve => now,
        },
        details: issue_details(c),
        link: Some((
            super::message::api(c.base_url, &format!("issues/{}", i.id)),
            format!("Issue {}", i.id),
        )),
    }
}

/// The incident for a destination the gateway disabled: critical, since its
/// events are held until someone enables it. Nothing resolves it automatically.
pub fn for_disabled(d: &Destination, m: &Message, base_url: &str, now: i64) -> Incident {
    let mut details = vec![("destination_id", d.id.clone())];
    if let Some(r) = &d.disabled_reason {
        details.push(("disabled_reason", r.clone()));
    }
    Incident {
        key: disabled_key(&d.id),
        action: Action::Open,
        summary: m.subject.clone(),
        description: m.body.clone(),
        source: d.name.clone(),
        severity: Severity::Critical,
        at: d.disabled_at.unwrap_or(now),
        details,
        link: Some((
            super::message::api(base_url, &format!("destinations/{}", d.id)),
            format!("Destination {}", d.name),
        )),
    }
}

impl Incident {
    /// The details as a JSON object of strings.
    pub fn details_json(&self) -> Value {
        let map: serde_json::Map<String, Value> = self
            .details
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        Value::Object(map)
    }
}

/// At most `max` characters of `s`, cut on a character boundary, with `…` at
/// the end when cut (services refuse longer fields rather than cut them).
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// How much of an error answer a failed send quotes in the log.
const ANSWER_EXCERPT: usize = 300;

/// POSTs `body` to `url` with `client`, which must come from
/// [`crate::egress::resolve::client_builder`] (guarded resolver, no redirects),
/// the way [`super::webhook::send`] does; any answer but 2xx is a failed send.
pub(super) async fn post_json(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    service: &'static str,
    url: url::Url,
    authorization: Option<reqwest::header::HeaderValue>,
    body: &Value,
) -> Result<(), IncidentError> {
    let fail = |message: String| IncidentError::Failed { service, message };
    // reqwest connects to an IP-literal host without asking the resolver.
    egress.check_url(&url).map_err(|e| fail(e.to_string()))?;
    let mut req = client.post(url).timeout(Duration::from_secs(15)).json(body);
    if let Some(auth) = authorization {
        req = req.header(reqwest::header::AUTHORIZATION, auth);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| fail(redact::reqwest_error(e)))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    // The answer says why (a malformed event, an unknown key); neither service
    // echoes the key back.
    let text = resp.text().await.unwrap_or_default();
    Err(fail(format!(
        "answered {status}: {}",
        truncate(&text, ANSWER_EXCERPT)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("short", 130), "short");
        let long = "é".repeat(200);
        let t = truncate(&long, 130);
        assert_eq!(t.chars().count(), 130);
        assert!(t.ends_with('…'));
    }

    #[test]
    fn an_issue_keeps_its_key() {
        assert_eq!(issue_key("iss_1"), "hookyard-iss_1");
        assert_ne!(issue_key("iss_1"), disabled_key("iss_1"));
    }
}
