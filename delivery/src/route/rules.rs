//! Connection rules, validated and compiled: the filter, the retry policy and the
//! delay that routing and dispatch apply.

use hookyard_core::backoff::{RetrySchedule, RetryStrategy};
use hookyard_core::filter::Filter;
use hookyard_core::status_codes::StatusCodeSet;
use serde_json::Value;

use crate::model::Rule;

/// Why a rules array was refused; the message names the rule and field to fix.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("rules[{index}]: {message}")]
pub struct RuleError {
    pub index: usize,
    pub message: String,
}

/// The parts of a request a filter rule can look at.
#[derive(Debug, Clone, Default)]
pub struct CompiledFilter {
    pub body: Option<Filter>,
    pub headers: Option<Filter>,
    pub query: Option<Filter>,
    pub path: Option<Filter>,
}

impl CompiledFilter {
    /// A filter's parts (`null` or absent: no condition on that part); the error
    /// names the part whose pattern is wrong. Connection rules and
    /// `PUT /filters/evaluate` both compile filters here.
    pub fn compile(
        body: &Option<Value>,
        headers: &Option<Value>,
        query: &Option<Value>,
        path: &Option<Value>,
    ) -> Result<Self, (&'static str, String)> {
        let part = |name: &'static str, v: &Option<Value>| match v {
            None | Some(Value::Null) => Ok(None),
            Some(pattern) => Filter::parse(pattern)
                .map(Some)
                .map_err(|e| (name, e.to_string())),
        };
        Ok(CompiledFilter {
            body: part("body", body)?,
            headers: part("headers", headers)?,
            query: part("query", query)?,
            path: part("path", path)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub schedule: RetrySchedule,
    /// `None`: every failure is retried.
    pub status_codes: Option<StatusCodeSet>,
}

impl RetryPolicy {
    /// Whether a failure with this response status (`None`: no response) is retried.
    pub fn retries_status(&self, status: Option<u16>) -> bool {
        match (status, &self.status_codes) {
            (Some(s), Some(set)) => set.matches(s),
            _ => true,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CompiledRules {
    pub filter: Option<CompiledFilter>,
    pub retry: Option<RetryPolicy>,
    pub delay_ms: Option<i64>,
    pub has_transform: bool,
}

/// Longest delay rule accepted: 24 hours, as Hookdeck.
const MAX_DELAY_MS: i64 = 24 * 3600 * 1000;
/// Most retries a rule may ask for.
const MAX_RETRY_COUNT: i64 = 100;

impl CompiledRules {
    pub fn compile(rules: &[Rule]) -> Result<Self, RuleError> {
        let mut out = CompiledRules::default();
        let mut seen = std::collections::HashSet::new();
        for (index, rule) in rules.iter().enumerate() {
            let err = |message: String| RuleError { index, message };
            let kind = std::mem::discriminant(rule);
            if !seen.insert(kind) {
                return Err(err(
                    "a connection can have only one rule of each type".into()
                ));
            }
            match rule {
                Rule::Filter {
                    headers,
                    body,
                    query,
                    path,
                } => {
                    let f = CompiledFilter::compile(body, headers, query, path)
                        .map_err(|(part, e)| err(format!("filter on {part}: {e}")))?;
                    out.filter = Some(f);
                }
                Rule::Retry {
                    strategy,
                    interval,
                    count,
                    response_status_codes,
                } => {
                    let interval = interval.unwrap_or(60_000);
                    if interval < 0 {
                        return Err(err(
                            "retry interval must be a positive number of milliseconds".into(),
                        ));
                    }
                    let count = count.unwrap_or(5);
                    if !(0..=MAX_RETRY_COUNT).contains(&count) {
                        return Err(err(format!(
                            "retry count must be between 0 and {MAX_RETRY_COUNT}"
                        )));
                    }
                    let status_codes = match response_status_codes {
                        Some(list) => {
                            Some(StatusCodeSet::parse(list).map_err(|e| err(e.to_string()))?)
                        }
                        None => None,
                    };
                    out.retry = Some(RetryPolicy {
                        schedule: RetrySchedule {
                            strategy: *strategy,
                            interval_ms: interval as u64,
                            count: count as u32,
                        },
                        status_codes,
                    });
                }
                Rule::Delay { delay } => {
                    if !(0..=MAX_DELAY_MS).contains(delay) {
                        return Err(err(format!(
                            "delay must be between 0 and {MAX_DELAY_MS} milliseconds"
                        )));
                    }
                    out.delay_ms = Some(*delay);
                }
                Rule::Transform { .. } => {
                    out.has_transform = true;
                }
            }
        }
        Ok(out)
    }
}

/// The retry policy used by connections without a retry rule.
pub fn default_retry_policy(strategy: RetryStrategy, interval_ms: u64, count: u32) -> RetryPolicy {
    RetryPolicy {
        schedule: RetrySchedule {
            strategy,
            interval_ms,
            count,
        },
        status_codes: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: Value) -> Vec<Rule> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn invalid_filters_name_the_rule_and_part() {
        let r = rules(serde_json::json!([{"type": "retry", "strategy": "linear"},
            {"type": "filter", "body": {"a": {"$bogus": 1}}}]));
        let e = CompiledRules::compile(&r).unwrap_err();
        assert_eq!(e.index, 1);
        assert!(
            e.to_string().starts_with("rules[1]: filter on body:"),
            "{e}"
        );
    }

    #[test]
    fn retry_rule_compiles_with_status_codes() {
        let r = rules(
            serde_json::json!([{"type": "retry", "strategy": "exponential",
            "interval": 1000, "count": 3, "response_status_codes": ["500-599", "!503"]}]),
        );
        let c = CompiledRules::compile(&r).unwrap();
        let p = c.retry.unwrap();
        assert_eq!(p.schedule.count, 3);
        assert!(p.retries_status(Some(500)));
        assert!(!p.retries_status(Some(503)));
        assert!(!p.retries_status(Some(404)));
        assert!(p.retries_status(None));
    }

    #[test]
    fn duplicate_and_out_of_range_rules_are_refused() {
        let dup = rules(
            serde_json::json!([{"type": "delay", "delay": 1}, {"type": "delay", "delay": 2}]),
        );
        assert!(CompiledRules::compile(&dup).is_err());
        let neg = rules(serde_json::json!([{"type": "delay", "delay": -5}]));
        assert!(CompiledRules::compile(&neg).is_err());
        let many =
            rules(serde_json::json!([{"type": "retry", "strategy": "linear", "count": 1000}]));
        assert!(CompiledRules::compile(&many).is_err());
    }
}
