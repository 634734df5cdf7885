//! Bulk retry (Hookdeck's `/bulk/events/retry`): retry every event a query
//! matches, in steps, with progress and cancel.
//!
//! - this module: what an operation's query matches (the records are in [`crate::model`]);
//! - [`worker`]: takes steps of unfinished operations, on any replica.

pub mod worker;

use hookyard_core::filter::{Filter, FilterError};

use crate::clock::parse_rfc3339;
use crate::model::{EventQuery, EventStatus, RequestRecord, StatusMatch};
use crate::route::{RequestView, RouteInput};
use crate::store::EventFilter;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("query.{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("query.{field}: {source}")]
    Filter {
        field: &'static str,
        source: FilterError,
    },
}

/// A query checked and split into its SQL part and its filter-language part.
pub struct CompiledQuery {
    pub sql: EventFilter,
    /// `(part, filter)`: body, headers, path, parsed_query.
    pub content: Vec<(&'static str, Filter)>,
}

impl CompiledQuery {
    /// Whether the event's request passes the content filters (always, if none).
    pub fn matches_request(&self, req: &RequestRecord) -> bool {
        if self.content.is_empty() {
            return true;
        }
        let view = RequestView::new(&RouteInput::from(req));
        self.content.iter().all(|(part, f)| {
            let v = match *part {
                "body" => &view.body,
                "headers" => &view.headers,
                "path" => &view.path,
                _ => &view.query,
            };
            f.matches(v)
        })
    }

    pub fn needs_requests(&self) -> bool {
        !self.content.is_empty()
    }
}

impl EventQuery {
    pub fn compile(&self) -> Result<CompiledQuery, QueryError> {
        let mut sql = EventFilter::default();
        if let Some(ids) = &self.id {
            let ids = ids.to_vec();
            if ids.len() == 1 {
                sql.id = ids.into_iter().next();
            } else {
                return Err(QueryError::Invalid {
                    field: "id",
                    message: "give one event id (use other fields to select many)".into(),
                });
            }
        }
        if let Some(st) = &self.status {
            for s in st.to_vec() {
                let parsed = EventStatus::parse(&s).ok_or_else(|| QueryError::Invalid {
                    field: "status",
                    message: format!(
                        "must be SCHEDULED, QUEUED, HOLD, SUCCESSFUL or FAILED, not {s:?}"
                    ),
                })?;
                sql.statuses.push(parsed);
            }
        }
        sql.connection_id = self.webhook_id.clone();
        sql.source_id = self.source_id.clone();
        sql.destination_id = self.destination_id.clone();
        sql.issue_id = self.issue_id.clone();
        match &self.response_status {
            None => {}
            Some(StatusMatch::One(s)) => sql.response_statuses = vec![*s],
            Some(StatusMatch::Many(list)) => sql.response_statuses = list.clone(),
            Some(StatusMatch::Range(r)) => {
                sql.response_status_range = Some((r.gte.unwrap_or(0), r.lte.unwrap_or(i64::MAX)))
            }
        }
        if let Some(codes) = &self.error_code {
            sql.error_codes = codes.to_vec();
        }
        if let Some(range) = &self.created_at {
            let parse = |v: &Option<String>, field| {
                v.as_deref()
                    .map(|t| {
                        parse_rfc3339(t).ok_or_else(|| QueryError::Invalid {
                            field,
                            message: format!("{t:?} is not an RFC 3339 time"),
                        })
                    })
                    .transpose()
            };
            sql.created_from = parse(&range.gte, "created_at.gte")?;
            sql.created_to = parse(&range.lte, "created_at.lte")?;
        }
        let mut content = Vec::new();
        for (field, pattern) in [
            ("body", &self.body),
            ("headers", &self.headers),
            ("path", &self.path),
            ("parsed_query", &self.parsed_query),
        ] {
            if let Some(p) = pattern {
                let f = Filter::parse(p).map_err(|source| QueryError::Filter { field, source })?;
                content.push((field, f));
            }
        }
        Ok(CompiledQuery { sql, content })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::Value;

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
            "created_at": {"gte": "2026-01-01T00:00:00Z"}
        }))
        .compile()
        .unwrap();
        assert_eq!(
            q.sql.statuses,
            vec![EventStatus::Failed, EventStatus::Scheduled]
        );
        assert_eq!(q.sql.connection_id.as_deref(), Some("web_1"));
        assert_eq!(q.sql.response_status_range, Some((500, 599)));
        assert_eq!(q.sql.error_codes, vec!["TIMEOUT".to_owned()]);
        assert_eq!(q.sql.created_from, Some(1_767_225_600_000));
        assert!(!q.needs_requests());
    }

    #[test]
    fn bad_queries_name_the_field() {
        let e = query(json!({"status": "BROKEN"})).compile().err().unwrap();
        assert!(e.to_string().starts_with("query.status:"), "{e}");
        let e = query(json!({"created_at": {"gte": "yesterday"}}))
            .compile()
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("query.created_at.gte:"), "{e}");
        let e = query(json!({"body": {"a": {"$nope": 1}}}))
            .compile()
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("query.body:"), "{e}");
        assert!(serde_json::from_value::<EventQuery>(json!({"colour": 1})).is_err());
    }
}
