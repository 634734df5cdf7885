//! `/attempts`: each try at delivering an event, with what the destination said.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::views::{self, AttemptOut};
use super::{PageParams, Paginated, SearchQuery};
use crate::error::ApiError;
use crate::model::{values, OneOrMany};
use crate::state::AppState;
use crate::store::AttemptFilter;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptListParams {
    /// Attempts of these events.
    #[param(value_type = Option<Vec<String>>)]
    pub event_id: Option<OneOrMany<String>>,
    /// Hookyard's addition: attempts to this destination.
    pub destination_id: Option<String>,
}

#[utoipa::path(get, path = "/attempts", tag = "attempts", params(AttemptListParams, PageParams),
    responses((status = 200, description = "A page of attempts")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    search: SearchQuery<AttemptListParams>,
) -> Result<Json<Paginated<AttemptOut>>, ApiError> {
    let (p, q) = (search.filters, search.page.to_query()?);
    if search.include_data {
        return Err(ApiError::Unprocessable(
            "include: attempts have no request data to include".into(),
        ));
    }
    let f = AttemptFilter {
        event_ids: values(&p.event_id),
        destination_id: p.destination_id,
    };
    let page = st.store.list_attempts(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |a| views::attempt(&a))))
}

#[utoipa::path(get, path = "/attempts/{id}", tag = "attempts",
    responses((status = 200, body = AttemptOut), (status = 404, description = "no such attempt")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<AttemptOut>, ApiError> {
    let a = st
        .store
        .get_attempt(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("attempt", &id))?;
    Ok(Json(views::attempt(&a)))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/attempts", get(list))
        .route("/attempts/{id}", get(retrieve))
}
