//! Topics (event types): what a request is about, where a source finds it, the
//! patterns connections subscribe with, the counts kept of them, and publish keys.

use serde::{Deserialize, Serialize};

/// The longest topic (and pattern) accepted, in bytes.
pub const MAX_TOPIC_BYTES: usize = 255;

/// Where a source finds the topic of a webhook: a header (GitHub's
/// `X-GitHub-Event`, Shopify's `X-Shopify-Topic`) or a field of a JSON body
/// (Stripe's `type`; a dotted path such as `data.object.type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum TopicFrom {
    Header(String),
    Body(String),
}

impl TopicFrom {
    /// Checks the rule; the error says what to fix.
    pub fn check(&self) -> Result<(), String> {
        match self {
            TopicFrom::Header(h) => {
                if h.is_empty() || !h.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                    return Err(format!("header must be a header name (got {h:?})"));
                }
            }
            TopicFrom::Body(p) => {
                if p.is_empty() || p.split('.').any(str::is_empty) || p.len() > 255 {
                    return Err(format!(
                        "body must be a dotted path to a JSON field, like `type` or `data.object.type` (got {p:?})"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The topic of a request under this rule; `None` when it has none, or one
    /// that is not a valid topic (a webhook is never refused over its topic).
    pub fn topic_of(&self, headers: &[(String, String)], body: &[u8]) -> Option<String> {
        let found = match self {
            TopicFrom::Header(name) => headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned()),
            TopicFrom::Body(path) => {
                // Only what looks like a JSON object is parsed: a webhook body is
                // not always JSON, and parsing costs.
                let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
                if body[start] != b'{' {
                    return None;
                }
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                let mut at = &v;
                for key in path.split('.') {
                    at = match at {
                        serde_json::Value::Object(m) => m.get(key)?,
                        serde_json::Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
                        _ => return None,
                    };
                }
                match at {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            }
        };
        found.filter(|t| check_topic(t).is_ok())
    }
}

/// A topic: 1 to 255 bytes, no whitespace or control characters.
pub fn check_topic(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Err("must not be empty".into());
    }
    if t.len() > MAX_TOPIC_BYTES {
        return Err(format!("must be at most {MAX_TOPIC_BYTES} bytes"));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "must not contain spaces or control characters (got {t:?})"
        ));
    }
    Ok(())
}

/// A subscription pattern: a topic whose dot-separated segments may be `*`,
/// which stands for one or more whole segments (`orders.*`, `*.created`, `*`).
pub fn check_topic_pattern(p: &str) -> Result<(), String> {
    check_topic(p)?;
    for seg in p.split('.') {
        if seg.is_empty() {
            return Err(format!("has an empty segment (got {p:?})"));
        }
        if seg != "*" && seg.contains('*') {
            return Err(format!(
                "uses `*` inside a segment ({seg:?}); `*` stands for whole segments, as in `orders.*`"
            ));
        }
    }
    Ok(())
}

/// Whether `pattern` matches `topic`. A request without a topic is matched by
/// `*` alone.
pub fn topic_matches(pattern: &str, topic: Option<&str>) -> bool {
    if pattern == "*" {
        return true;
    }
    let Some(topic) = topic else { return false };
    let p: Vec<&str> = pattern.split('.').collect();
    let t: Vec<&str> = topic.split('.').collect();
    segments_match(&p, &t)
}

fn segments_match(p: &[&str], t: &[&str]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        // `*` takes one segment, or more.
        Some((&"*", rest)) => (1..=t.len()).any(|n| segments_match(rest, &t[n..])),
        Some((seg, rest)) => t
            .split_first()
            .is_some_and(|(first, more)| first == seg && segments_match(rest, more)),
    }
}

/// A connection subscribed to `patterns` (`None`: to everything) takes a
/// request of `topic`.
pub fn subscribed(patterns: Option<&[String]>, topic: Option<&str>) -> bool {
    match patterns {
        None => true,
        Some(ps) => ps.iter().any(|p| topic_matches(p, topic)),
    }
}

/// A topic seen on a source: how many requests carried it and when.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicStat {
    pub source_id: String,
    pub name: String,
    pub count: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

/// A key that can only publish (`POST /publish`), to any source or to the ones
/// listed. Only a hash of the key is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishKey {
    pub id: String,
    pub name: String,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// The key's first characters, to recognise it.
    pub key_prefix: String,
    /// `None`: every source.
    pub source_ids: Option<Vec<String>>,
    pub created_at: i64,
}

impl PublishKey {
    pub fn may_publish_to(&self, source_id: &str) -> bool {
        self.source_ids
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|s| s == source_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        let m = |p: &str, t: &str| topic_matches(p, Some(t));
        assert!(m("*", "anything.at.all"));
        assert!(m("orders.*", "orders.created"));
        assert!(m("orders.*", "orders.line.updated"));
        assert!(!m("orders.*", "orders"));
        assert!(!m("orders.*", "ordersx.created"));
        assert!(m("*.created", "invoice.created"));
        assert!(!m("*.created", "invoice.created.late"));
        assert!(m("invoice.created", "invoice.created"));
        assert!(!m("invoice.created", "invoice.created2"));
        assert!(m("a.*.c", "a.b.b.c"));
        assert!(topic_matches("*", None));
        assert!(!topic_matches("orders.*", None));
        assert!(subscribed(None, None));
        assert!(!subscribed(Some(&["x".into()]), Some("y")));
    }

    #[test]
    fn bad_topics_and_patterns_are_refused_with_a_reason() {
        assert!(check_topic("").is_err());
        assert!(check_topic("a b").is_err());
        assert!(check_topic(&"x".repeat(256)).is_err());
        assert!(check_topic("orders.created").is_ok());
        assert!(check_topic_pattern("orders*")
            .unwrap_err()
            .contains("whole segments"));
        assert!(check_topic_pattern("orders..x").is_err());
        assert!(check_topic_pattern("orders.*").is_ok());
    }

    #[test]
    fn sources_find_topics_in_headers_and_json_bodies() {
        let h = vec![("x-github-event".to_owned(), "push".to_owned())];
        assert_eq!(
            TopicFrom::Header("X-GitHub-Event".into()).topic_of(&h, b""),
            Some("push".into())
        );
        let body = br#"{"type":"invoice.paid","data":{"object":{"n":[{"k":"deep"}]}}}"#;
        assert_eq!(
            TopicFrom::Body("type".into()).topic_of(&[], body),
            Some("invoice.paid".into())
        );
        assert_eq!(
            TopicFrom::Body("data.object.n.0.k".into()).topic_of(&[], body),
            Some("deep".into())
        );
        assert_eq!(TopicFrom::Body("nope".into()).topic_of(&[], body), None);
        assert_eq!(
            TopicFrom::Body("type".into()).topic_of(&[], b"not json"),
            None
        );
        let spaced = br#"{"type":"has space"}"#;
        assert_eq!(TopicFrom::Body("type".into()).topic_of(&[], spaced), None);
        assert!(TopicFrom::Body("a..b".into()).check().is_err());
        assert!(TopicFrom::Header("x y".into()).check().is_err());
    }
}
