//! Issues: delivery failures grouped by connection and cause (and broker
//! sources that cannot be consumed), and the triggers that alert on them.

use serde::{Deserialize, Serialize};

/// What failed (Hookdeck's issue types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueType {
    /// Attempts to a destination failed.
    Delivery,
    /// A transformation failed on an event.
    Transformation,
    /// A destination's backlog is older than allowed.
    Backpressure,
    /// A broker source (RABBITMQ, NATS, AWS_SQS, REDIS_STREAM) could not be
    /// consumed: its broker is unreachable or refuses (Hookyard's addition).
    Source,
}

impl IssueType {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueType::Delivery => "delivery",
            IssueType::Transformation => "transformation",
            IssueType::Backpressure => "backpressure",
            IssueType::Source => "source",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "delivery" => IssueType::Delivery,
            "transformation" => IssueType::Transformation,
            "backpressure" => IssueType::Backpressure,
            "source" => IssueType::Source,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IssueStatus {
    Opened,
    Acknowledged,
    Resolved,
    Ignored,
}

impl IssueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Opened => "OPENED",
            IssueStatus::Acknowledged => "ACKNOWLEDGED",
            IssueStatus::Resolved => "RESOLVED",
            IssueStatus::Ignored => "IGNORED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "OPENED" => IssueStatus::Opened,
            "ACKNOWLEDGED" => IssueStatus::Acknowledged,
            "RESOLVED" => IssueStatus::Resolved,
            "IGNORED" => IssueStatus::Ignored,
            _ => return None,
        })
    }
}

/// One group of failures. Its `fingerprint` (type, connection, destination or
/// source, cause) is what later failures are matched on; a failure on a resolved or
/// dismissed issue opens it again rather than creating a second one.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub id: String,
    pub issue_type: IssueType,
    pub fingerprint: String,
    pub status: IssueStatus,
    pub connection_id: Option<String>,
    pub destination_id: Option<String>,
    /// The broker source a `source` issue is about.
    pub source_id: Option<String>,
    pub response_status: Option<i64>,
    pub error_code: Option<String>,
    /// Failures grouped into it, ever.
    pub event_count: i64,
    /// Failures since it was last opened.
    pub opened_count: i64,
    /// Of those, the ones that ended their event (no retry left).
    pub final_count: i64,
    pub reference_event_id: Option<String>,
    pub reference_attempt_id: Option<String>,
    pub opened_at: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub dismissed_at: Option<i64>,
    pub auto_resolved_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// When the opening alert went out (for this opening).
    pub alerted_at: Option<i64>,
    /// `event_count` when the last alert or digest mentioned it.
    pub alerted_count: i64,
    pub recovery_alerted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A failure to group, as the tracker saw it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub issue_type: IssueType,
    pub connection_id: Option<String>,
    pub destination_id: Option<String>,
    /// The broker source that could not be consumed (`source` failures).
    pub source_id: Option<String>,
    pub response_status: Option<i64>,
    pub error_code: Option<String>,
    pub event_id: Option<String>,
    pub attempt_id: Option<String>,
    /// The event has no retry left.
    pub is_final: bool,
}

impl Failure {
    /// What makes two failures the same issue: the type, where, and the cause (the
    /// response status, or the error class when there was no response).
    pub fn fingerprint(&self) -> String {
        let cause = match (self.response_status, &self.error_code) {
            (Some(s), _) => format!("status:{s}"),
            (None, Some(code)) => format!("error:{code}"),
            (None, None) => "unknown".to_owned(),
        };
        let place = match self.issue_type {
            IssueType::Backpressure => self.destination_id.as_deref(),
            IssueType::Source => self.source_id.as_deref(),
            IssueType::Delivery | IssueType::Transformation => self.connection_id.as_deref(),
        };
        let place = place.unwrap_or("");
        format!("{}:{place}:{cause}", self.issue_type.as_str())
    }
}

#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub ids: Vec<String>,
    pub types: Vec<IssueType>,
    pub statuses: Vec<IssueStatus>,
    pub connection_id: Option<String>,
    pub destination_id: Option<String>,
    pub source_id: Option<String>,
    pub created_at: super::Bounds,
    pub first_seen_at: super::Bounds,
    pub last_seen_at: super::Bounds,
    pub dismissed_at: super::Bounds,
}

/// When a trigger's channels hear about an issue (Hookdeck's issue trigger, with
/// thresholds added).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfigs {
    /// `first_attempt`: any failed attempt counts; `final_attempt`: only failures
    /// that ended their event.
    #[serde(default)]
    pub strategy: TriggerStrategy,
    /// Connection ids, or a name pattern with `*` wildcards (delivery and
    /// transformation issues).
    #[serde(default = "everything")]
    pub connections: NameMatch,
    /// Destination ids or a name pattern (backpressure issues).
    #[serde(default = "everything")]
    pub destinations: NameMatch,
    /// Source ids or a name pattern (source issues: a broker source that cannot
    /// be consumed).
    #[serde(default = "everything")]
    pub sources: NameMatch,
    /// How bad it must get before the first alert; none: the first failure.
    #[serde(default)]
    pub threshold: Option<Threshold>,
    /// Backpressure: the oldest pending event's age, in milliseconds (as in
    /// Hookdeck), that opens an issue; none: [`DEFAULT_BACKPRESSURE_DELAY_MS`].
    /// The API takes [`BACKPRESSURE_DELAY_MS`].
    #[serde(default)]
    pub delay: Option<u64>,
}

/// A backpressure trigger's `delay` when it sets none: five minutes.
pub const DEFAULT_BACKPRESSURE_DELAY_MS: u64 = 300_000;

/// The `delay` the API accepts: one minute to one day, in milliseconds
/// (Hookdeck's `IssueTriggerBackpressureDelay`).
pub const BACKPRESSURE_DELAY_MS: std::ops::RangeInclusive<u64> = 60_000..=86_400_000;

impl TriggerConfigs {
    /// The backlog age, in milliseconds, past which this (backpressure) trigger
    /// holds a destination late.
    pub fn delay_ms(&self) -> i64 {
        let d = self.delay.unwrap_or(DEFAULT_BACKPRESSURE_DELAY_MS);
        i64::try_from(d).unwrap_or(i64::MAX)
    }
}

fn everything() -> NameMatch {
    NameMatch::Pattern("*".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerStrategy {
    #[default]
    FirstAttempt,
    FinalAttempt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NameMatch {
    Pattern(String),
    Ids(Vec<String>),
}

impl NameMatch {
    pub fn matches(&self, id: &str, name: Option<&str>) -> bool {
        match self {
            NameMatch::Ids(ids) => ids.iter().any(|i| i == id),
            NameMatch::Pattern(p) => wildcard(p, name.unwrap_or(id)) || wildcard(p, id),
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// When an issue is bad enough to tell someone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// This many failures in a row on the issue (since it opened).
    #[serde(default)]
    pub consecutive_failures: Option<i64>,
    /// At least this share (0–1) of the destination's attempts failed over the
    /// last `window_secs`, counting only once `min_attempts` were made.
    #[serde(default)]
    pub failure_rate: Option<FailureRate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRate {
    pub rate: f64,
    pub window_secs: u64,
    #[serde(default = "one")]
    pub min_attempts: i64,
}

fn one() -> i64 {
    1
}

/// Where a trigger's alerts go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    /// Email through the configured SMTP server; `to` overrides `alerts.email.to`.
    #[serde(default)]
    pub email: Option<EmailChannel>,
    /// A POST of Slack-compatible JSON (`{"text": …}`) to `url`.
    #[serde(default)]
    pub webhook: Option<WebhookChannel>,
    /// Hookdeck's Slack channel shape: `{ "channel_name": … , "url": … }`; sent as
    /// a webhook when it carries an incoming-webhook `url`.
    #[serde(default)]
    pub slack: Option<WebhookChannel>,
    /// A PagerDuty service's Events API v2 integration: an incident per issue,
    /// resolved with it.
    #[serde(default)]
    pub pagerduty: Option<PagerDutyChannel>,
    /// An Opsgenie API integration: an alert per issue, closed with it.
    #[serde(default)]
    pub opsgenie: Option<OpsgenieChannel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyChannel {
    /// The integration key of the service's Events API v2 integration.
    pub routing_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsgenieChannel {
    /// The key of an Opsgenie API integration (sent as `GenieKey`).
    pub api_key: String,
    /// Which Opsgenie instance the account lives in; none: `us`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<OpsgenieRegion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpsgenieRegion {
    Us,
    Eu,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    #[serde(default)]
    pub to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    pub url: String,
    #[serde(default)]
    pub channel_name: Option<String>,
}

/// Which issue triggers a list shows (Hookdeck's `GET /issue-triggers` filters).
#[derive(Debug, Clone, Default)]
pub struct TriggerFilter {
    pub name: Option<String>,
    pub issue_type: Option<IssueType>,
    /// `Some(true)`: only disabled triggers; `Some(false)`: only enabled ones.
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IssueTrigger {
    pub id: String,
    pub name: Option<String>,
    pub issue_type: IssueType,
    pub configs: TriggerConfigs,
    pub channels: Channels,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "anything"));
        assert!(wildcard("shop-*", "shop-orders"));
        assert!(!wildcard("shop-*", "stripe"));
        assert!(wildcard("*-orders", "shop-orders"));
        assert!(wildcard("a*c*e", "abcde"));
        assert!(!wildcard("a*c*e", "abcd"));
        assert!(wildcard("exact", "exact"));
    }

    #[test]
    fn a_backpressure_delay_is_in_milliseconds() {
        let mut c = TriggerConfigs {
            strategy: TriggerStrategy::FirstAttempt,
            connections: everything(),
            destinations: everything(),
            sources: everything(),
            threshold: None,
            delay: None,
        };
        assert_eq!(c.delay_ms(), 300_000, "five minutes by default");
        c.delay = Some(60_000);
        assert_eq!(c.delay_ms(), 60_000);
        c.delay = Some(u64::MAX);
        assert_eq!(c.delay_ms(), i64::MAX);
    }

    #[test]
    fn failures_with_the_same_cause_share_a_fingerprint() {
        let f = |status, code: Option<&str>| Failure {
            issue_type: IssueType::Delivery,
            connection_id: Some("web_1".into()),
            destination_id: Some("des_1".into()),
            source_id: None,
            response_status: status,
            error_code: code.map(str::to_owned),
            event_id: None,
            attempt_id: None,
            is_final: false,
        };
        assert_eq!(
            f(Some(500), None).fingerprint(),
            "delivery:web_1:status:500"
        );
        assert_ne!(
            f(Some(500), None).fingerprint(),
            f(Some(502), None).fingerprint()
        );
        assert_eq!(
            f(None, Some("TIMEOUT")).fingerprint(),
            "delivery:web_1:error:TIMEOUT"
        );
    }

    #[test]
    fn a_source_failure_is_grouped_by_source_and_error() {
        let f = |source: &str, code: &str| Failure {
            issue_type: IssueType::Source,
            connection_id: None,
            destination_id: None,
            source_id: Some(source.into()),
            response_status: None,
            error_code: Some(code.into()),
            event_id: None,
            attempt_id: None,
            is_final: false,
        };
        assert_eq!(
            f("src_1", "CONNECTION_REFUSED").fingerprint(),
            "source:src_1:error:CONNECTION_REFUSED"
        );
        assert_ne!(
            f("src_1", "CONNECTION_REFUSED").fingerprint(),
            f("src_1", "BROKER_REFUSED").fingerprint()
        );
        assert_ne!(
            f("src_1", "BROKER_REFUSED").fingerprint(),
            f("src_2", "BROKER_REFUSED").fingerprint()
        );
        assert_eq!(IssueType::parse("source"), Some(IssueType::Source));
        assert_eq!(IssueType::Source.as_str(), "source");
    }

    #[test]
    fn a_trigger_covers_every_source_unless_told() {
        let c: TriggerConfigs = serde_json::from_str("{}").unwrap();
        assert_eq!(c.sources, NameMatch::Pattern("*".into()));
        assert!(c.sources.matches("src_1", Some("orders-queue")));
        let c: TriggerConfigs = serde_json::from_str(r#"{"sources": "orders-*"}"#).unwrap();
        assert!(c.sources.matches("src_1", Some("orders-queue")));
        assert!(!c.sources.matches("src_2", Some("billing-queue")));
        let c: TriggerConfigs = serde_json::from_str(r#"{"sources": ["src_2"]}"#).unwrap();
        assert!(c.sources.matches("src_2", Some("billing-queue")));
    }
}
