//! Bulk retry (Hookdeck's `/bulk/events/retry`, `/bulk/requests/retry`,
//! `/bulk/ignored-events/retry`): retry every event, request or ignored event a
//! query matches, in steps, with progress and cancel.
//!
//! - this module: what an operation's query matches (the records are in [`crate::model`]);
//! - [`worker`]: takes steps of unfinished operations, on any replica.

pub mod worker;

use hookyard_core::filter::{Filter, FilterError};

use crate::clock::parse_rfc3339;
use crate::model::{
    EventQuery, EventStatus, IgnoredEventQuery, OneOrMany, RejectionCause, RequestQuery,
    RequestRecord, StatusMatch, TimeRange,
};
use crate::route::{RequestView, RouteInput};
use crate::store::{EventFilter, IgnoredSelection, RequestSelection, Store, StoreResult};

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

/// Filter-language patterns on a request's parts, as `(part, filter)`: body,
/// headers, path, parsed_query. Event and request queries share them.
#[derive(Default)]
pub struct ContentFilters(Vec<(&'static str, Filter)>);

impl ContentFilters {
    fn parse(
        body: &Option<serde_json::Value>,
        headers: &Option<serde_json::Value>,
        path: &Option<serde_json::Value>,
        parsed_query: &Option<serde_json::Value>,
    ) -> Result<Self, QueryError> {
        let mut content = Vec::new();
        for (field, pattern) in [
            ("body", body),
            ("headers", headers),
            ("path", path),
            ("parsed_query", parsed_query),
        ] {
            if let Some(p) = pattern {
                let f = Filter::parse(p).map_err(|source| QueryError::Filter { field, source })?;
                content.push((field, f));
            }
        }
        Ok(ContentFilters(content))
    }

    /// Whether the request passes them (always, if there are none).
    pub fn matches(&self, req: &RequestRecord) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let view = RequestView::new(&RouteInput::from(req));
        self.0.iter().all(|(part, f)| {
            let v = match *part {
                "body" => &view.body,
                "headers" => &view.headers,
                "path" => &view.path,
                _ => &view.query,
            };
            f.matches(v)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `{gte, lte}` as Unix milliseconds; errors name `field.gte` / `field.lte`.
fn time_range(
    range: &TimeRange,
    gte_field: &'static str,
    lte_field: &'static str,
) -> Result<(Option<i64>, Option<i64>), QueryError> {
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
    Ok((parse(&range.gte, gte_field)?, parse(&range.lte, lte_field)?))
}

/// A query checked and split into its SQL part and its filter-language part.
pub struct CompiledQuery {
    pub sql: EventFilter,
    pub content: ContentFilters,
}

impl CompiledQuery {
    /// Whether the event's request passes the content filters (always, if none).
    pub fn matches_request(&self, req: &RequestRecord) -> bool {
        self.content.matches(req)
    }

    pub fn needs_requests(&self) -> bool {
        !self.content.is_empty()
    }
}

/// A request query checked and split like [`CompiledQuery`].
pub struct CompiledRequestQuery {
    pub sql: RequestSelection,
    pub content: ContentFilters,
}

impl RequestQuery {
    pub fn compile(&self) -> Result<CompiledRequestQuery, QueryError> {
        let mut sql = RequestSelection {
            ids: self.id.as_ref().map(OneOrMany::to_vec).unwrap_or_default(),
            source_ids: self
                .source_id
                .as_ref()
                .map(OneOrMany::to_vec)
                .unwrap_or_default(),
            verified: self.verified,
            ..Default::default()
        };
        sql.rejected = match self.status.as_deref() {
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
        for c in self
            .rejection_cause
            .as_ref()
            .map(OneOrMany::to_vec)
            .unwrap_or_default()
        {
            let parsed = RejectionCause::parse(&c).ok_or_else(|| QueryError::Invalid {
                field: "rejection_cause",
                message: format!("{c:?} is not a rejection cause Hookyard records"),
            })?;
            sql.rejection_causes.push(parsed.as_str().to_owned());
        }
        if let Some(range) = &self.ingested_at {
            (sql.received_from, sql.received_to) =
                time_range(range, "ingested_at.gte", "ingested_at.lte")?;
        }
        let content =
            ContentFilters::parse(&self.body, &self.headers, &self.path, &self.parsed_query)?;
        Ok(CompiledRequestQuery { sql, content })
    }
}

/// The causes an ignored event can have (Hookdeck's, and Hookyard's `DISABLED`).
const IGNORED_CAUSES: [&str; 5] = [
    "FILTERED",
    "DISABLED",
    "TRANSFORMATION_FAILED",
    "CLI_DISCONNECTED",
    "ARCHIVED",
];

impl IgnoredEventQuery {
    /// Checks the query; the selection needs the store (see [`Self::selection`]).
    pub fn check(&self) -> Result<(), QueryError> {
        for c in self
            .cause
            .as_ref()
            .map(OneOrMany::to_vec)
            .unwrap_or_default()
        {
            if !IGNORED_CAUSES.contains(&c.as_str()) {
                return Err(QueryError::Invalid {
                    field: "cause",
                    message: format!("must be one of {}, not {c:?}", IGNORED_CAUSES.join(", ")),
                });
            }
        }
        Ok(())
    }

    /// What the query selects now: `transformation_id` stands for the
    /// connections whose rules run it at this moment.
    pub async fn selection(&self, store: &Store) -> StoreResult<IgnoredSelection> {
        let mut connection_ids = self.webhook_id.as_ref().map(OneOrMany::to_vec);
        if let Some(tid) = &self.transformation_id {
            let using: Vec<String> = store
                .connections_using_transformation(tid)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            connection_ids = Some(match connection_ids {
                None => using,
                Some(ids) => ids.into_iter().filter(|i| using.contains(i)).collect(),
            });
        }
        Ok(IgnoredSelection {
            causes: self
                .cause
                .as_ref()
                .map(OneOrMany::to_vec)
                .unwrap_or_default(),
            connection_ids,
        })
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
            (sql.created_from, sql.created_to) =
                time_range(range, "created_at.gte", "created_at.lte")?;
        }
        let content =
            ContentFilters::parse(&self.body, &self.headers, &self.path, &self.parsed_query)?;
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
