//! `PUT /filters/evaluate` (Hookyard's addition): does a connection's filter match
//! this request? The semantics of routing and of `hookyard filter eval`, for the
//! dashboard's filter editor and for scripts testing a filter before saving it.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::put;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::transformations::{input_request, RunRequestIn};
use super::JsonBody;
use crate::error::ApiError;
use crate::route::rules::CompiledFilter;
use crate::route::{failed_parts, RequestView, RouteInput};
use crate::state::AppState;

/// The parts of a filter rule, as in a connection's `filter` rule.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterIn {
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub headers: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub query: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub path: Option<Value>,
}

/// A filter and the request to try it on: a stored one (`request_id`) or one
/// given inline (`request`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateIn {
    pub filter: FilterIn,
    pub request_id: Option<String>,
    pub request: Option<RunRequestIn>,
}

/// The request as the filter language sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilterView {
    #[schema(value_type = Object)]
    pub body: Value,
    #[schema(value_type = Object)]
    pub headers: Value,
    #[schema(value_type = Object)]
    pub query: Value,
    #[schema(value_type = Object)]
    pub path: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluateOut {
    pub matches: bool,
    /// The parts that did not match (`body`, `headers`, `path`, `query`).
    pub failed: Vec<&'static str>,
    pub request: FilterView,
}

#[utoipa::path(put, path = "/filters/evaluate", tag = "filters",
    request_body = EvaluateIn,
    responses((status = 200, body = EvaluateOut),
        (status = 422, description = "a part of the filter is not valid (the message names it)"),
        (status = 404, description = "no such request")))]
pub async fn evaluate(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<EvaluateIn>,
) -> Result<Json<EvaluateOut>, ApiError> {
    let f = &input.filter;
    let filter =
        CompiledFilter::compile(&f.body, &f.headers, &f.query, &f.path).map_err(|(part, e)| {
            ApiError::Unprocessable(format!("invalid field `filter.{part}`: {e}"))
        })?;
    let view = match (input.request_id, input.request) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable(
                "give either `request_id` or `request`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(ApiError::Unprocessable(
                "`request_id` or `request` is required: the request to test the filter on".into(),
            ))
        }
        (Some(id), None) => {
            let r = st
                .store
                .get_request(&id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("request", &id))?;
            RequestView::new(&RouteInput::from(&r))
        }
        (None, Some(r)) => {
            let http = input_request(r);
            RequestView::new(&RouteInput::of_http("", &http, None))
        }
    };
    let failed = failed_parts(&filter, &view);
    Ok(Json(EvaluateOut {
        matches: failed.is_empty(),
        failed,
        request: FilterView {
            body: view.body,
            headers: view.headers,
            query: view.query,
            path: view.path,
        },
    }))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/filters/evaluate", put(evaluate))
}
