//! What an alert says: one plain-text message per kind, the same text for email
//! (subject + body) and for chat webhooks.

use crate::clock::rfc3339;
use crate::model::Issue;
use crate::model::{Attempt, Connection, Destination};

/// Everything an alert about one issue can mention.
pub struct IssueContext<'a> {
    pub issue: &'a Issue,
    pub connection: Option<&'a Connection>,
    pub destination: Option<&'a Destination>,
    pub attempt: Option<&'a Attempt>,
    /// The gateway's public URL, for links.
    pub base_url: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

/// How much of a response body an alert quotes.
const BODY_EXCERPT: usize = 500;

fn destination_label(d: Option<&Destination>, id: Option<&str>) -> String {
    match d {
        Some(d) => match (d.kind.address(), &d.url) {
            // Broker and bus destinations: the type and where it publishes.
            (Some(addr), _) => format!(
                "{} ({} {})",
                d.name,
                d.kind.type_name(),
                crate::egress::redact::url_text(&addr)
            ),
            (None, Some(url)) => format!("{} ({})", d.name, crate::egress::redact::url_text(url)),
            (None, None) => d.name.clone(),
        },
        None => id.unwrap_or("unknown destination").to_owned(),
    }
}

fn cause(issue: &Issue) -> String {
    match (issue.response_status, &issue.error_code) {
        (Some(s), _) => format!("HTTP {s}"),
        (None, Some(code)) => code.clone(),
        (None, None) => "an unknown error".into(),
    }
}

fn excerpt(body: &str) -> String {
    if body.chars().count() <= BODY_EXCERPT {
        return body.to_owned();
    }
    let cut: String = body.chars().take(BODY_EXCERPT).collect();
    format!("{cut}… (cut)")
}

pub(super) fn api(base: &str, path: &str) -> String {
    format!(
        "{}/{}/{path}",
        base.trim_end_matches('/'),
        crate::config::API_VERSION
    )
}

/// The lines about an issue that every kind of alert repeats.
fn details(c: &IssueContext<'_>) -> String {
    let i = c.issue;
    let mut out = String::new();
    out.push_str(&format!(
        "Destination: {}\n",
        destination_label(c.destination, i.destination_id.as_deref())
    ));
    if let Some(conn) = c.connection {
        out.push_str(&format!(
            "Connection: {} ({})\n",
            conn.name.as_deref().unwrap_or("unnamed"),
            conn.id
        ));
    } else if let Some(id) = &i.connection_id {
        out.push_str(&format!("Connection: {id}\n"));
    }
    out.push_str(&format!("Error: {}\n", cause(i)));
    if let Some(a) = c.attempt {
        if let Some(s) = a.response_status {
            out.push_str(&format!("Response status: {s}\n"));
        }
        if let Some(m) = &a.error_message {
            out.push_str(&format!("Error message: {m}\n"));
        }
        if let Some(b) = &a.response_body {
            if !b.is_empty() {
                out.push_str(&format!("Response body:\n{}\n", excerpt(b)));
            }
        }
    }
    if let Some(e) = &i.reference_event_id {
        out.push_str(&format!(
            "Sample event: {e}\n  {}\n",
            api(c.base_url, &format!("events/{e}"))
        ));
    }
    out.push_str(&format!(
        "Issue: {} ({})\n  {}\n",
        i.id,
        i.status.as_str(),
        api(c.base_url, &format!("issues/{}", i.id))
    ));
    out.push_str(&format!(
        "Failures: {} since {} (first seen {}, last seen {})\n",
        i.opened_count,
        rfc3339(i.opened_at),
        rfc3339(i.first_seen_at),
        rfc3339(i.last_seen_at)
    ));
    out
}

fn place(c: &IssueContext<'_>) -> String {
    destination_label(c.destination, c.issue.destination_id.as_deref())
}

pub fn opened(c: &IssueContext<'_>) -> Message {
    Message {
        subject: format!("[Hookyard] Failing: {} — {}", place(c), cause(c.issue)),
        body: format!(
            "Deliveries are failing. Hookyard opened an issue and will send a digest \
             while it stays open, and a note when it recovers.\n\n{}",
            details(c)
        ),
    }
}

pub fn recovered(c: &IssueContext<'_>) -> Message {
    Message {
        subject: format!("[Hookyard] Recovered: {} — {}", place(c), cause(c.issue)),
        body: format!(
            "Deliveries succeed again; the issue was resolved at {}.\n\n{}",
            rfc3339(c.issue.resolved_at.unwrap_or(c.issue.updated_at)),
            details(c)
        ),
    }
}

/// An issue someone dismissed or ignored: it did not recover, so only incident
/// channels hear of it (their incident is closed).
pub fn closed(c: &IssueContext<'_>) -> Message {
    let how = if c.issue.dismissed_at.is_some() {
        "dismissed"
    } else {
        "ignored"
    };
    Message {
        subject: format!("[Hookyard] Closed: {} — {}", place(c), cause(c.issue)),
        body: format!(
            "The issue was {how} in Hookyard; it opens again if it fails again.\n\n{}",
            details(c)
        ),
    }
}

pub fn digest(items: &[IssueContext<'_>]) -> Message {
    let mut body = format!(
        "{} open issue(s) had new failures since the last alert.\n",
        items.len()
    );
    for c in items {
        body.push_str(&format!(
            "\n— {} new failure(s)\n{}",
            c.issue.event_count - c.issue.alerted_count,
            details(c)
        ));
    }
    Message {
        subject: format!("[Hookyard] Digest: {} issue(s) still failing", items.len()),
        body,
    }
}

pub fn destination_disabled(d: &Destination, base_url: &str) -> Message {
    let reason = d
        .disabled_reason
        .as_deref()
        .unwrap_or("consecutive failures");
    Message {
        subject: format!("[Hookyard] Disabled: {}", destination_label(Some(d), None)),
        body: format!(
            "Hookyard disabled the destination {} ({}) after {reason}.\n\n\
             Its new events are held, not dropped. When the endpoint is fixed, enable it \
             and everything held is delivered, oldest first:\n  PUT {}\n",
            d.name,
            d.id,
            api(base_url, &format!("destinations/{}/enable", d.id))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IssueStatus, IssueType};

    fn issue() -> Issue {
        Issue {
            id: "iss_1".into(),
            issue_type: IssueType::Delivery,
            fingerprint: "f".into(),
            status: IssueStatus::Opened,
            connection_id: Some("web_1".into()),
            destination_id: Some("des_1".into()),
            response_status: Some(500),
            error_code: None,
            event_count: 3,
            opened_count: 3,
            final_count: 0,
            reference_event_id: Some("evt_1".into()),
            reference_attempt_id: Some("atm_1".into()),
            opened_at: 0,
            first_seen_at: 0,
            last_seen_at: 0,
            dismissed_at: None,
            auto_resolved_at: None,
            resolved_at: None,
            alerted_at: None,
            alerted_count: 0,
            recovery_alerted_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn an_opening_alert_names_what_to_look_at() {
        let i = issue();
        let mut d = Destination::new(
            "des_1".into(),
            "orders-api".into(),
            Some("http://x/y".into()),
            0,
        );
        d.disabled_at = None;
        let m = opened(&IssueContext {
            issue: &i,
            connection: None,
            destination: Some(&d),
            attempt: None,
            base_url: "http://gw:8600/",
        });
        assert!(
            m.subject.contains("orders-api") && m.subject.contains("HTTP 500"),
            "{}",
            m.subject
        );
        assert!(
            m.body.contains("http://gw:8600/2024-09-01/events/evt_1"),
            "{}",
            m.body
        );
        assert!(m.body.contains("Connection: web_1"), "{}", m.body);
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "x".repeat(2000);
        let e = excerpt(&long);
        assert!(e.len() < 600 && e.ends_with("(cut)"));
    }
}
