//! What an alert says: one plain-text message per kind, the same text for email
//! (subject + body) and for chat webhooks.

use crate::clock::rfc3339;
use crate::egress::redact;
use crate::model::{Attempt, Connection, Destination, Source, SourceKind};
use crate::model::{Issue, IssueType};

/// Everything an alert about one issue can mention.
pub struct IssueContext<'a> {
    pub issue: &'a Issue,
    pub connection: Option<&'a Connection>,
    pub destination: Option<&'a Destination>,
    /// The broker source of a `source` issue (none once deleted).
    pub source: Option<&'a Source>,
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

/// Where a broker source is read from: the broker (credentials redacted) and
/// the queue or stream.
fn source_address(kind: &SourceKind) -> Option<String> {
    Some(match kind {
        SourceKind::Webhook => return None,
        SourceKind::Rabbitmq(c) => format!("{}, queue {}", redact::url_text(&c.url), c.queue),
        SourceKind::Nats(c) => format!("{}, stream {}", redact::url_text(&c.url), c.stream),
        SourceKind::AwsSqs(c) => redact::url_text(&c.queue_url),
        SourceKind::RedisStream(c) => {
            format!("{}, stream {}", redact::url_text(&c.url), c.stream)
        }
    })
}

/// A source by name, or by id once it is gone.
fn source_name<'a>(c: &'a IssueContext<'_>) -> &'a str {
    match (c.source, &c.issue.source_id) {
        (Some(s), _) => &s.name,
        (None, Some(id)) => id,
        (None, None) => "unknown source",
    }
}

/// What a broker error code means, for the codes consumers report.
fn source_error_in_words(code: &str) -> Option<&'static str> {
    Some(match code {
        "CONNECTION_REFUSED" => {
            "the broker refused the connection (is it running at this address?)"
        }
        "DNS_LOOKUP_FAILED" => "the broker's host name does not resolve",
        "TIMEOUT" => "the broker did not answer in time",
        "NOT_FOUND" => "the queue or stream to consume does not exist",
        "PERMISSION_DENIED" => "the broker refused the credentials or their permissions",
        "BROKER_REFUSED" => "the broker refused to let the gateway consume",
        _ => return None,
    })
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

/// The lines about a `source` issue's source: what it is, where it reads, and
/// where to look at it.
fn source_lines(c: &IssueContext<'_>) -> String {
    let mut out = format!("Source: {}", source_name(c));
    if let Some(s) = c.source {
        out.push_str(&format!(" ({}", s.kind.type_name()));
        if let Some(addr) = source_address(&s.kind) {
            out.push_str(&format!(" {addr}"));
        }
        out.push(')');
    }
    out.push('\n');
    if let Some(id) = &c.issue.source_id {
        out.push_str(&format!(
            "  {}\n",
            api(c.base_url, &format!("sources/{id}"))
        ));
    }
    out
}

/// The lines about an issue that every kind of alert repeats.
fn details(c: &IssueContext<'_>) -> String {
    let i = c.issue;
    let mut out = String::new();
    if i.issue_type == IssueType::Source {
        out.push_str(&source_lines(c));
    } else {
        out.push_str(&format!(
            "Destination: {}\n",
            destination_label(c.destination, i.destination_id.as_deref())
        ));
    }
    if let Some(conn) = c.connection {
        out.push_str(&format!(
            "Connection: {} ({})\n",
            conn.name.as_deref().unwrap_or("unnamed"),
            conn.id
        ));
    } else if let Some(id) = &i.connection_id {
        out.push_str(&format!("Connection: {id}\n"));
    }
    match i.error_code.as_deref().and_then(source_error_in_words) {
        Some(words) if i.issue_type == IssueType::Source => {
            out.push_str(&format!("Error: {} — {words}\n", cause(i)));
        }
        _ => out.push_str(&format!("Error: {}\n", cause(i))),
    }
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

/// What went wrong, in one line: where and why.
fn headline(c: &IssueContext<'_>) -> String {
    match c.issue.issue_type {
        IssueType::Source => {
            let kind = c
                .source
                .map(|s| format!(" ({})", s.kind.type_name()))
                .unwrap_or_default();
            format!(
                "Source `{}`{kind} cannot be consumed: {}",
                source_name(c),
                cause(c.issue)
            )
        }
        _ => format!("{} — {}", place(c), cause(c.issue)),
    }
}

pub fn opened(c: &IssueContext<'_>) -> Message {
    let what = match c.issue.issue_type {
        IssueType::Source => {
            "The gateway cannot read from this broker source, so none of its messages \
             reach Hookyard; they stay on the broker (within its own limits) until a \
             consumer reads them again. The gateway keeps reconnecting."
        }
        _ => "Deliveries are failing.",
    };
    Message {
        subject: format!("[Hookyard] Failing: {}", headline(c)),
        body: format!(
            "{what} Hookyard opened an issue and will send a digest while it stays \
             open, and a note when it recovers.\n\n{}",
            details(c)
        ),
    }
}

pub fn recovered(c: &IssueContext<'_>) -> Message {
    let resolved_at = rfc3339(c.issue.resolved_at.unwrap_or(c.issue.updated_at));
    if c.issue.issue_type == IssueType::Source {
        // Resolved because a consumer connected, or because the source is no
        // longer consumed at all (disabled, deleted): not the same news.
        let (kind, state, what) = match c.source {
            Some(s) if s.disabled_at.is_none() => (
                "Recovered",
                "is consumed again",
                "The gateway reads from it again",
            ),
            Some(_) => (
                "Resolved",
                "is no longer consumed (disabled)",
                "The source was disabled, so nothing consumes it",
            ),
            None => (
                "Resolved",
                "is no longer consumed (deleted)",
                "The source was deleted, so nothing consumes it",
            ),
        };
        return Message {
            subject: format!("[Hookyard] {kind}: Source `{}` {state}", source_name(c)),
            body: format!(
                "{what}; the issue was resolved at {resolved_at}.\n\n{}",
                details(c)
            ),
        };
    }
    Message {
        subject: format!("[Hookyard] Recovered: {} — {}", place(c), cause(c.issue)),
        body: format!(
            "Deliveries succeed again; the issue was resolved at {resolved_at}.\n\n{}",
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
        subject: format!("[Hookyard] Closed: {}", headline(c)),
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
            source_id: None,
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
            source: None,
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

    fn source_issue() -> Issue {
        Issue {
            issue_type: IssueType::Source,
            connection_id: None,
            destination_id: None,
            source_id: Some("src_1".into()),
            response_status: None,
            error_code: Some("CONNECTION_REFUSED".into()),
            reference_event_id: None,
            reference_attempt_id: None,
            ..issue()
        }
    }

    fn rabbitmq_source() -> Source {
        let mut s = Source::new("src_1".into(), "orders-queue".into(), 0);
        s.kind = SourceKind::from_parts(
            "RABBITMQ",
            Some(serde_json::json!({"url": "amqp://user:secret@mq:5672/%2f", "queue": "orders"})),
        )
        .unwrap();
        s
    }

    #[test]
    fn a_source_alert_says_the_source_cannot_be_consumed() {
        let i = source_issue();
        let s = rabbitmq_source();
        let c = IssueContext {
            issue: &i,
            connection: None,
            destination: None,
            source: Some(&s),
            attempt: None,
            base_url: "http://gw:8600",
        };
        let m = opened(&c);
        assert_eq!(
            m.subject,
            "[Hookyard] Failing: Source `orders-queue` (RABBITMQ) cannot be consumed: \
             CONNECTION_REFUSED"
        );
        assert!(
            m.body.contains("cannot read from this broker source"),
            "{}",
            m.body
        );
        assert!(m.body.contains("queue orders"), "{}", m.body);
        assert!(
            m.body.contains("http://gw:8600/2024-09-01/sources/src_1"),
            "{}",
            m.body
        );
        assert!(
            m.body
                .contains("Error: CONNECTION_REFUSED — the broker refused"),
            "{}",
            m.body
        );
        assert!(
            !m.body.contains("secret"),
            "credentials redacted: {}",
            m.body
        );
        assert!(!m.body.contains("Destination:"), "{}", m.body);

        let mut done = i.clone();
        done.status = IssueStatus::Resolved;
        done.resolved_at = Some(5);
        let r = recovered(&IssueContext { issue: &done, ..c });
        assert_eq!(
            r.subject,
            "[Hookyard] Recovered: Source `orders-queue` is consumed again"
        );
        let mut off = s.clone();
        off.disabled_at = Some(4);
        let r = recovered(&IssueContext {
            issue: &done,
            source: Some(&off),
            ..c
        });
        assert!(
            r.subject.contains("no longer consumed (disabled)"),
            "{}",
            r.subject
        );
        let r = recovered(&IssueContext {
            issue: &done,
            source: None,
            ..c
        });
        assert_eq!(
            r.subject,
            "[Hookyard] Resolved: Source `src_1` is no longer consumed (deleted)"
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "x".repeat(2000);
        let e = excerpt(&long);
        assert!(e.len() < 600 && e.ends_with("(cut)"));
    }
}
