//! What an event or request query matches, for lists and bulk retries alike: its
//! SQL terms (for the store) and its content terms (filter-language patterns and
//! search text, checked on the stored requests), and listing the matches a page
//! at a time.
//!
//! - this module: compiling [`EventQuery`] and [`RequestQuery`];
//! - [`content`]: the content terms and how a request is checked against them;
//! - [`search`]: pages of a list whose query has content terms.

pub mod content;
pub mod search;

use hookyard_core::filter::{Filter, FilterError};

use crate::model::{
    values, EventQuery, EventStatus, NumberMatch, RejectionCause, RequestQuery, TimeMatch,
};
use crate::store::{EventFilter, RequestFilter};
pub use content::ContentTerm;

/// Search text shorter than this matches too much to be worth a scan.
pub const MIN_SEARCH_TERM: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{field}: {source}")]
    Filter {
        field: &'static str,
        source: FilterError,
    },
}

/// A query checked and split into its SQL part and its content part.
#[derive(Debug)]
pub struct Compiled<F> {
    pub sql: F,
    pub content: Vec<ContentTerm>,
}

/// An event query, compiled.
pub type CompiledQuery = Compiled<EventFilter>;

impl<F> Compiled<F> {
    /// Whether the request passes the content terms (always, if there are none).
    pub fn matches_request(&self, req: &crate::model::RequestRecord) -> bool {
        content::matches(&self.content, req)
    }

    pub fn needs_requests(&self) -> bool {
        !self.content.is_empty()
    }
}

fn number(m: &Option<NumberMatch>) -> crate::model::Bounds {
    m.as_ref().map(NumberMatch::bounds).unwrap_or_default()
}

fn time(field: &'static str, m: &Option<TimeMatch>) -> Result<crate::model::Bounds, QueryError> {
    m.as_ref()
        .map(|m| m.bounds())
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| QueryError::Invalid {
            field,
            message: e.trim_start_matches(['.', ':', ' ']).to_owned(),
        })
}

/// The content terms of a query's `body`, `headers`, `path`, `parsed_query` and
/// `search_term`.
fn content_terms(
    body: &Option<serde_json::Value>,
    headers: &Option<serde_json::Value>,
    path: &Option<serde_json::Value>,
    parsed_query: &Option<serde_json::Value>,
    search_term: &Option<String>,
) -> Result<Vec<ContentTerm>, QueryError> {
    let mut terms = Vec::new();
    for (field, pattern) in [
        ("body", body),
        ("headers", headers),
        ("path", path),
        ("parsed_query", parsed_query),
    ] {
        match pattern {
            None => {}
            // Hookdeck matches a path given as text partially.
            Some(serde_json::Value::String(text)) if field == "path" => {
                terms.push(ContentTerm::PathContains(text.clone()))
            }
            Some(p) => {
                let f = Filter::parse(p).map_err(|source| QueryError::Filter { field, source })?;
                terms.push(ContentTerm::Pattern(field, f));
            }
        }
    }
    if let Some(term) = search_term {
        if term.chars().count() < MIN_SEARCH_TERM {
            return Err(QueryError::Invalid {
                field: "search_term",
                message: format!("give at least {MIN_SEARCH_TERM} characters, not {term:?}"),
            });
        }
        terms.push(ContentTerm::Search(term.to_lowercase()));
    }
    Ok(terms)
}

impl EventQuery {
    pub fn compile(&self) -> Result<CompiledQuery, QueryError> {
        let mut statuses = Vec::new();
        for s in values(&self.status) {
            statuses.push(EventStatus::parse(&s).ok_or_else(|| QueryError::Invalid {
                field: "status",
                message: format!(
                    "must be SCHEDULED, QUEUED, HOLD, SUCCESSFUL or FAILED, not {s:?}"
                ),
            })?);
        }
        let sql = EventFilter {
            ids: values(&self.id),
            statuses,
            connection_ids: values(&self.webhook_id),
            source_ids: values(&self.source_id),
            destination_ids: values(&self.destination_id),
            request_ids: values(&self.request_id),
            issue_ids: values(&self.issue_id),
            bulk_retry_ids: values(&self.bulk_retry_id),
            error_codes: values(&self.error_code),
            attempts: number(&self.attempts),
            response_status: number(&self.response_status),
            created_at: time("created_at", &self.created_at)?,
            successful_at: time("successful_at", &self.successful_at)?,
            last_attempt_at: time("last_attempt_at", &self.last_attempt_at)?,
            topics: values(&self.topic),
        };
        let content = content_terms(
            &self.body,
            &self.headers,
            &self.path,
            &self.parsed_query,
            &self.search_term,
        )?;
        Ok(Compiled { sql, content })
    }
}

impl RequestQuery {
    pub fn compile(&self) -> Result<Compiled<RequestFilter>, QueryError> {
        let rejected = match self.status.as_deref() {
            None => None,
            Some("accepted") => Some(false),
            Some("rejected") => Some(true),
            Some(other) => {
                return Err(QueryError::Invalid {
                    field: "status",
                    message: format!("must be `accepted` or `rejected`, not {other:?}"),
                })
            }
        };
        let mut rejection_causes = Vec::new();
        for c in values(&self.rejection_cause) {
            let cause = RejectionCause::parse(&c).ok_or_else(|| QueryError::Invalid {
                field: "rejection_cause",
                message: format!("{c:?} is not a rejection cause Hookyard records"),
            })?;
            rejection_causes.push(cause.as_str().to_owned());
        }
        let sql = RequestFilter {
            ids: values(&self.id),
            source_ids: values(&self.source_id),
            rejected,
            rejection_causes,
            verified: self.verified.map(|f| f.0),
            events_count: number(&self.events_count),
            ignored_count: number(&self.ignored_count),
            ingested_at: time("ingested_at", &self.ingested_at)?,
            topics: values(&self.topic),
        };
        let content = content_terms(
            &self.body,
            &self.headers,
            &self.path,
            &self.parsed_query,
            &self.search_term,
        )?;
        Ok(Compiled { sql, content })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn query(v: Value) -> EventQuery {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn sql_terms_come_from_the_query() {
        let q = query(json!({
            "status": ["FAILED", "SCHEDULED"],
            "webhook_id": "web_1",
            "response_status": {"gte": 500, "lte": 599},
            "error_code": "TIMEOUT",
            "created_at": {"gte": "2026-01-01T00:00:00Z"},
            "attempts": {"gt": "2"}
        }))
        .compile()
        .unwrap();
        assert_eq!(
            q.sql.statuses,
            vec![EventStatus::Failed, EventStatus::Scheduled]
        );
        assert_eq!(q.sql.connection_ids, vec!["web_1".to_owned()]);
        assert_eq!(
            (q.sql.response_status.gte, q.sql.response_status.lte),
            (Some(500), Some(599))
        );
        assert_eq!(q.sql.error_codes, vec!["TIMEOUT".to_owned()]);
        assert_eq!(q.sql.created_at.gte, Some(1_767_225_600_000));
        assert_eq!(q.sql.attempts.gt, Some(2));
        assert!(!q.needs_requests());
    }

    #[test]
    fn bad_queries_name_the_field() {
        let e = query(json!({"status": "BROKEN"})).compile().err().unwrap();
        assert!(e.to_string().starts_with("status:"), "{e}");
        let e = query(json!({"created_at": {"gte": "yesterday"}}))
            .compile()
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("created_at: gte"), "{e}");
        let e = query(json!({"body": {"a": {"$nope": 1}}}))
            .compile()
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("body:"), "{e}");
        let e = query(json!({"search_term": "ab"})).compile().err().unwrap();
        assert!(e.to_string().starts_with("search_term:"), "{e}");
        assert!(serde_json::from_value::<EventQuery>(json!({"colour": 1})).is_err());
    }
}
