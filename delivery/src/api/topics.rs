//! `/topics`: the topics requests carried, with how many and when last seen.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::QueryParams;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopicParams {
    /// Only this source's topics.
    pub source_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopicOut {
    pub name: String,
    pub source_id: String,
    /// Requests stored with it.
    pub count: i64,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopicList {
    pub models: Vec<TopicOut>,
    pub count: usize,
}

#[utoipa::path(get, path = "/topics", tag = "publish", params(TopicParams),
    responses((status = 200, body = TopicList, description = "topics seen, most recently seen first (at most 1000)")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    QueryParams(p): QueryParams<TopicParams>,
) -> Result<Json<TopicList>, ApiError> {
    let models: Vec<TopicOut> = st
        .store
        .list_topics(p.source_id.as_deref())
        .await?
        .into_iter()
        .map(|t| TopicOut {
            name: t.name,
            source_id: t.source_id,
            count: t.count,
            first_seen_at: rfc3339(t.first_seen_at),
            last_seen_at: rfc3339(t.last_seen_at),
        })
        .collect();
    Ok(Json(TopicList {
        count: models.len(),
        models,
    }))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/topics", get(list))
}
