//! `/issues`: failures grouped by connection and cause (Hookdeck's issues), and
//! broker sources that cannot be consumed (Hookyard's `source` issues).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::query::time_bounds;
use super::views::time;
use super::{JsonBody, PageParams, Paginated, SearchQuery};
use crate::clock::{now_ms, rfc3339};
use crate::error::ApiError;
use crate::model::{values, Issue, IssueFilter, IssueStatus, IssueType, OneOrMany, TimeMatch};
use crate::state::AppState;
use crate::store::SortColumn;

/// An issue in Hookdeck's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueOut {
    pub id: String,
    pub team_id: &'static str,
    pub status: String,
    #[serde(rename = "type")]
    pub issue_type: String,
    pub opened_at: String,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub last_updated_by: Option<String>,
    pub dismissed_at: Option<String>,
    pub auto_resolved_at: Option<String>,
    pub merged_with: Option<String>,
    #[schema(value_type = Object)]
    pub aggregation_keys: Value,
    #[schema(value_type = Object)]
    pub reference: Value,
    /// Hookyard's addition: failures grouped into it, ever and since it opened.
    pub event_count: i64,
    pub opened_count: i64,
    pub destination_id: Option<String>,
    /// Hookyard's addition: the broker source a `source` issue is about.
    pub source_id: Option<String>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn view(i: &Issue) -> IssueOut {
    let (keys, reference) = match i.issue_type {
        IssueType::Delivery => (
            json!({
                "webhook_id": i.connection_id.iter().collect::<Vec<_>>(),
                "response_status": i.response_status.iter().collect::<Vec<_>>(),
                "error_code": i.error_code.iter().collect::<Vec<_>>(),
            }),
            json!({ "event_id": i.reference_event_id, "attempt_id": i.reference_attempt_id }),
        ),
        IssueType::Transformation => (
            json!({ "transformation_id": [], "log_level": "error",
                    "webhook_id": i.connection_id.iter().collect::<Vec<_>>() }),
            json!({ "event_id": i.reference_event_id }),
        ),
        IssueType::Backpressure => (
            json!({ "destination_id": i.destination_id.iter().collect::<Vec<_>>() }),
            json!({ "destination_id": i.destination_id }),
        ),
        IssueType::Source => (
            json!({
                "source_id": i.source_id.iter().collect::<Vec<_>>(),
                "error_code": i.error_code.iter().collect::<Vec<_>>(),
            }),
            json!({ "source_id": i.source_id }),
        ),
    };
    IssueOut {
        id: i.id.clone(),
        team_id: super::views::TEAM_ID,
        status: i.status.as_str().into(),
        issue_type: i.issue_type.as_str().into(),
        opened_at: rfc3339(i.opened_at),
        first_seen_at: rfc3339(i.first_seen_at),
        last_seen_at: rfc3339(i.last_seen_at),
        last_updated_by: None,
        dismissed_at: time(i.dismissed_at),
        auto_resolved_at: time(i.auto_resolved_at),
        merged_with: None,
        aggregation_keys: keys,
        reference,
        event_count: i.event_count,
        opened_count: i.opened_count,
        destination_id: i.destination_id.clone(),
        source_id: i.source_id.clone(),
        updated_at: rfc3339(i.updated_at),
        created_at: rfc3339(i.created_at),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IssueListParams {
    /// Issue ids.
    #[param(value_type = Option<Vec<String>>)]
    pub id: Option<OneOrMany<String>>,
    /// delivery, transformation, backpressure or source; one or several.
    #[serde(rename = "type")]
    #[param(value_type = Option<Vec<String>>)]
    pub issue_type: Option<OneOrMany<String>>,
    /// OPENED, ACKNOWLEDGED, RESOLVED or IGNORED; one or several.
    #[param(value_type = Option<Vec<String>>)]
    pub status: Option<OneOrMany<String>>,
    /// Hookyard's addition: the issues of one connection.
    pub webhook_id: Option<String>,
    pub destination_id: Option<String>,
    /// Hookyard's addition: the issues of one broker source.
    pub source_id: Option<String>,
    /// RFC 3339 time or operators (`created_at[gte]=…`).
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub created_at: Option<TimeMatch>,
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub first_seen_at: Option<TimeMatch>,
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub last_seen_at: Option<TimeMatch>,
    /// When dismissed; `dismissed_at[any]=false` for issues not dismissed.
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub dismissed_at: Option<TimeMatch>,
}

/// The sort orders of `GET /issues` besides `created_at`.
const ISSUE_SORTS: [SortColumn; 4] = [
    SortColumn::FirstSeenAt,
    SortColumn::LastSeenAt,
    SortColumn::OpenedAt,
    SortColumn::IssueStatus,
];

fn parse_status(s: &str, field: &str) -> Result<IssueStatus, ApiError> {
    IssueStatus::parse(s).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "{field} must be OPENED, ACKNOWLEDGED, RESOLVED or IGNORED, not {s:?}"
        ))
    })
}

pub fn parse_type(s: &str, field: &str) -> Result<IssueType, ApiError> {
    IssueType::parse(s).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "{field} must be delivery, transformation, backpressure or source, not {s:?}"
        ))
    })
}

impl IssueListParams {
    fn filter(self) -> Result<IssueFilter, ApiError> {
        Ok(IssueFilter {
            ids: values(&self.id),
            types: values(&self.issue_type)
                .iter()
                .map(|t| parse_type(t, "type"))
                .collect::<Result<_, _>>()?,
            statuses: values(&self.status)
                .iter()
                .map(|s| parse_status(s, "status"))
                .collect::<Result<_, _>>()?,
            connection_id: self.webhook_id,
            destination_id: self.destination_id,
            source_id: self.source_id,
            created_at: time_bounds("created_at", &self.created_at)?,
            first_seen_at: time_bounds("first_seen_at", &self.first_seen_at)?,
            last_seen_at: time_bounds("last_seen_at", &self.last_seen_at)?,
            dismissed_at: time_bounds("dismissed_at", &self.dismissed_at)?,
        })
    }
}

#[utoipa::path(get, path = "/issues", tag = "issues", params(IssueListParams, PageParams),
    responses((status = 200, description = "A page of issues")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    search: SearchQuery<IssueListParams>,
) -> Result<Json<Paginated<IssueOut>>, ApiError> {
    if search.include_data {
        return Err(ApiError::Unprocessable(
            "include: issues have no request data to include".into(),
        ));
    }
    let q = search.page.to_query_sorted(&ISSUE_SORTS)?;
    let page = st.store.list_issues(&search.filters.filter()?, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |i| view(&i))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssueCount {
    pub count: i64,
}

#[utoipa::path(get, path = "/issues/count", tag = "issues", params(IssueListParams),
    responses((status = 200, body = IssueCount)))]
pub async fn count(
    State(st): State<Arc<AppState>>,
    search: SearchQuery<IssueListParams>,
) -> Result<Json<IssueCount>, ApiError> {
    let p = &search.page;
    if search.include_data
        || p.limit.is_some()
        || p.next.is_some()
        || p.prev.is_some()
        || p.dir.is_some()
        || p.order_by.is_some()
    {
        return Err(ApiError::Unprocessable(
            "a count takes the list's filters only, not paging (limit, next, prev, dir, \
             order_by) or include"
                .into(),
        ));
    }
    Ok(Json(IssueCount {
        count: st.store.count_issues(&search.filters.filter()?).await?,
    }))
}

#[utoipa::path(get, path = "/issues/{id}", tag = "issues",
    responses((status = 200, body = IssueOut), (status = 404, description = "no such issue")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<IssueOut>, ApiError> {
    let i = st
        .store
        .get_issue(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("issue", &id))?;
    Ok(Json(view(&i)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueUpdate {
    /// OPENED, ACKNOWLEDGED, RESOLVED or IGNORED.
    pub status: String,
}

#[utoipa::path(put, path = "/issues/{id}", tag = "issues", request_body = IssueUpdate,
    responses((status = 200, body = IssueOut), (status = 404, description = "no such issue")))]
pub async fn update(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<IssueUpdate>,
) -> Result<Json<IssueOut>, ApiError> {
    let status = parse_status(&input.status, "status")?;
    let i = st
        .store
        .set_issue_status(&id, status, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("issue", &id))?;
    Ok(Json(view(&i)))
}

#[utoipa::path(delete, path = "/issues/{id}", tag = "issues",
    responses((status = 200, body = IssueOut), (status = 404, description = "no such issue")))]
/// Dismisses the issue: hidden from alerts until it fails again.
pub async fn dismiss(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<IssueOut>, ApiError> {
    let i = st
        .store
        .dismiss_issue(&id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("issue", &id))?;
    Ok(Json(view(&i)))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/issues", get(list))
        .route("/issues/count", get(count))
        .route("/issues/{id}", get(retrieve).put(update).delete(dismiss))
}
