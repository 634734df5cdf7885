//! `/destinations`: where events are delivered.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::Deserialize;
use utoipa::ToSchema;

use super::views::{self, DestinationOut};
use super::{parse_flag, validate, JsonBody, PageParams, Paginated, QueryParams};
use crate::clock::{new_id, now_ms};
use crate::error::ApiError;
use crate::model::{AuthMethod, Destination, RateLimitPeriod};
use crate::store::DestinationFilter;
use crate::AppState;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationIn {
    pub name: Option<String>,
    pub description: Option<String>,
    /// The HTTP endpoint events are sent to.
    pub url: Option<String>,
    pub cli_path: Option<String>,
    /// Events per `rate_limit_period`. Stored; not enforced yet (delivery limits
    /// come with the operations work).
    pub rate_limit: Option<i64>,
    #[schema(value_type = Option<String>)]
    pub rate_limit_period: Option<RateLimitPeriod>,
    /// Method of deliveries; default: the method the provider used.
    pub http_method: Option<String>,
    /// `{"type": "BEARER_TOKEN" | "BASIC_AUTH" | "API_KEY" | "HOOKDECK_SIGNATURE", "config": {…}}`
    #[schema(value_type = Option<Object>)]
    pub auth_method: Option<AuthMethod>,
    /// Do not append the path the provider used to `url`.
    pub path_forwarding_disabled: Option<bool>,
}

impl DestinationIn {
    pub fn apply(self, base: Option<Destination>, field: &str) -> Result<Destination, ApiError> {
        let now = now_ms();
        let f = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        let mut d = match base {
            Some(d) => d,
            None => Destination::new(new_id(IdKind::Destination), String::new(), None, now),
        };
        if let Some(name) = self.name {
            validate::name(&f("name"), &name)?;
            d.name = name;
        }
        if d.name.is_empty() {
            return Err(ApiError::Unprocessable(format!(
                "{} is required",
                f("name")
            )));
        }
        if self.description.is_some() {
            validate::description(&f("description"), &self.description)?;
            d.description = self.description;
        }
        if let Some(url) = self.url {
            validate::url(&f("url"), &url)?;
            d.url = Some(url);
        }
        if let Some(p) = self.cli_path {
            validate::description(&f("cli_path"), &Some(p.clone()))?;
            d.cli_path = Some(p);
        }
        // CLI destinations (`hookyard listen`) are not delivered to yet: without a
        // url every attempt would fail, so refuse now rather than then.
        if d.url.is_none() {
            return Err(ApiError::Unprocessable(format!(
                "{} is required: the http(s) endpoint events are delivered to",
                f("url")
            )));
        }
        if let Some(m) = self.http_method {
            let m = m.to_ascii_uppercase();
            validate::http_method(&f("http_method"), &m)?;
            d.http_method = Some(m);
        }
        if let Some(a) = self.auth_method {
            validate::auth_method(&f("auth_method"), &a)?;
            d.auth_method = Some(a);
        }
        if let Some(limit) = self.rate_limit {
            if limit < 1 {
                return Err(ApiError::Unprocessable(format!(
                    "{} must be at least 1",
                    f("rate_limit")
                )));
            }
            d.rate_limit = Some(limit);
            d.rate_limit_period = Some(d.rate_limit_period.unwrap_or(RateLimitPeriod::Second));
        }
        if let Some(p) = self.rate_limit_period {
            d.rate_limit_period = Some(p);
        }
        if let Some(p) = self.path_forwarding_disabled {
            d.path_forwarding_disabled = p;
        }
        d.updated_at = now;
        Ok(d)
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DestinationListParams {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub disabled: Option<String>,
}

#[utoipa::path(get, path = "/destinations", tag = "destinations", params(DestinationListParams, PageParams),
    responses((status = 200, description = "A page of destinations")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    QueryParams(p): QueryParams<DestinationListParams>,
    QueryParams(page): QueryParams<PageParams>,
) -> Result<Json<Paginated<DestinationOut>>, ApiError> {
    let q = page.to_query()?;
    let f = DestinationFilter {
        id: p.id,
        name: p.name,
        url: p.url,
        disabled: parse_flag("disabled", &p.disabled)?,
    };
    let page = st.store.list_destinations(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |d| {
        views::destination(&d)
    })))
}

#[utoipa::path(post, path = "/destinations", tag = "destinations", request_body = DestinationIn,
    responses((status = 200, body = DestinationOut), (status = 422, description = "invalid field or name taken")))]
pub async fn create(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<DestinationIn>,
) -> Result<Json<DestinationOut>, ApiError> {
    let d = input.apply(None, "")?;
    st.store.insert_destination(&d).await?;
    st.catalog.invalidate();
    Ok(Json(views::destination(&d)))
}

#[utoipa::path(put, path = "/destinations", tag = "destinations", request_body = DestinationIn,
    responses((status = 200, body = DestinationOut)))]
/// Creates the destination, or updates the one with this name.
pub async fn upsert(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<DestinationIn>,
) -> Result<Json<DestinationOut>, ApiError> {
    let name = input
        .name
        .clone()
        .ok_or_else(|| ApiError::Unprocessable("name is required".into()))?;
    let existing = st.store.find_destination_by_name(&name).await?;
    let is_new = existing.is_none();
    let d = input.apply(existing, "")?;
    if is_new {
        st.store.insert_destination(&d).await?;
    } else {
        st.store.update_destination(&d).await?;
    }
    st.catalog.invalidate();
    Ok(Json(views::destination(&d)))
}

pub async fn load(st: &AppState, id: &str) -> Result<Destination, ApiError> {
    st.store
        .get_destination(id)
        .await?
        .ok_or_else(|| ApiError::not_found("destination", id))
}

#[utoipa::path(get, path = "/destinations/{id}", tag = "destinations",
    responses((status = 200, body = DestinationOut), (status = 404, description = "no such destination")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<DestinationOut>, ApiError> {
    Ok(Json(views::destination(&load(&st, &id).await?)))
}

#[utoipa::path(put, path = "/destinations/{id}", tag = "destinations", request_body = DestinationIn,
    responses((status = 200, body = DestinationOut)))]
pub async fn update(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<DestinationIn>,
) -> Result<Json<DestinationOut>, ApiError> {
    let d = input.apply(Some(load(&st, &id).await?), "")?;
    st.store.update_destination(&d).await?;
    st.catalog.invalidate();
    Ok(Json(views::destination(&d)))
}

#[utoipa::path(delete, path = "/destinations/{id}", tag = "destinations",
    responses((status = 200, description = "`{\"id\"}`; its connections are deleted too")))]
pub async fn delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !st.store.delete_destination(&id).await? {
        return Err(ApiError::not_found("destination", &id));
    }
    st.catalog.invalidate();
    Ok(Json(serde_json::json!({ "id": id })))
}

async fn set_disabled(
    st: &AppState,
    id: &str,
    disabled: bool,
) -> Result<Json<DestinationOut>, ApiError> {
    let mut d = load(st, id).await?;
    let now = now_ms();
    d.disabled_at = if disabled {
        d.disabled_at.or(Some(now))
    } else {
        None
    };
    d.updated_at = now;
    st.store.update_destination(&d).await?;
    st.catalog.invalidate();
    if !disabled {
        st.dispatch_wake.notify_one();
    }
    Ok(Json(views::destination(&d)))
}

#[utoipa::path(put, path = "/destinations/{id}/disable", tag = "destinations",
    responses((status = 200, body = DestinationOut)))]
/// Stops deliveries; events wait until the destination is enabled again.
pub async fn disable(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<DestinationOut>, ApiError> {
    set_disabled(&st, &id, true).await
}

#[utoipa::path(put, path = "/destinations/{id}/enable", tag = "destinations",
    responses((status = 200, body = DestinationOut)))]
pub async fn enable(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<DestinationOut>, ApiError> {
    set_disabled(&st, &id, false).await
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/destinations", get(list).post(create).put(upsert))
        .route(
            "/destinations/{id}",
            get(retrieve).put(update).delete(delete),
        )
        .route("/destinations/{id}/disable", put(disable))
        .route("/destinations/{id}/enable", put(enable))
        .route("/destinations/{id}/archive", put(disable))
        .route("/destinations/{id}/unarchive", put(enable))
}
