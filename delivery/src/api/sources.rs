//! `/sources`: where webhooks come in.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::Deserialize;
use utoipa::ToSchema;

use super::views::{self, SourceOut};
use super::{parse_flag, validate, JsonBody, ListQuery, PageParams, Paginated};
use crate::clock::{new_id, now_ms};
use crate::error::ApiError;
use crate::model::{CustomResponse, Source, SourceKind};
use crate::state::AppState;
use crate::store::SourceFilter;

/// A source to create, or the fields of one to change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceIn {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Methods accepted; default POST, PUT, PATCH, DELETE.
    pub allowed_http_methods: Option<Vec<String>>,
    /// What the provider gets back instead of our JSON acknowledgement; `null`
    /// removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<Object>)]
    pub custom_response: Option<Option<CustomResponse>>,
    /// Provider signature verification (see the edge documentation); `null`
    /// removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<Object>)]
    pub verification: Option<Option<serde_json::Value>>,
    /// Hookyard's addition: largest accepted body in bytes (default: the
    /// gateway's `ingest.max_body_bytes`); `null` goes back to the default.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_body_bytes: Option<Option<i64>>,
    /// `WEBHOOK` (default: HTTP at `/e/<name>` and the publish API), or a broker
    /// the gateway consumes: `RABBITMQ`, `NATS`, `AWS_SQS`, `REDIS_STREAM`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The broker type's settings (queue, stream, consumers…).
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Option<serde_json::Value>>,
    /// Where a webhook's topic is: `{"header": "X-GitHub-Event"}` or
    /// `{"body": "type"}` (a dotted path into a JSON body); `null` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<Object>)]
    pub topic_from: Option<Option<crate::model::TopicFrom>>,
}

impl SourceIn {
    /// Applies these fields to `base` (a new source when `None`), checking each.
    pub fn apply(self, base: Option<Source>, field: &str) -> Result<Source, ApiError> {
        let now = now_ms();
        let f = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        let mut s = match base {
            Some(s) => s,
            None => Source::new(new_id(IdKind::Source), String::new(), now),
        };
        if let Some(name) = self.name {
            validate::name(&f("name"), &name)?;
            s.name = name;
        }
        if s.name.is_empty() {
            return Err(ApiError::Unprocessable(format!(
                "{} is required",
                f("name")
            )));
        }
        if self.description.is_some() {
            validate::description(&f("description"), &self.description)?;
            s.description = self.description;
        }
        if let Some(methods) = self.allowed_http_methods {
            let methods: Vec<String> = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
            for m in &methods {
                validate::http_method(&f("allowed_http_methods"), m)?;
            }
            if methods.is_empty() {
                return Err(ApiError::Unprocessable(format!(
                    "{} must list at least one method",
                    f("allowed_http_methods")
                )));
            }
            s.allowed_http_methods = Some(methods);
        }
        if let Some(Some(c)) = &self.custom_response {
            if c.body.chars().count() > 1000 {
                return Err(ApiError::Unprocessable(format!(
                    "{} must be at most 1000 characters",
                    f("custom_response.body")
                )));
            }
        }
        if let Some(c) = self.custom_response {
            s.custom_response = c;
        }
        if let Some(v) = self.verification {
            let v = v.unwrap_or(serde_json::Value::Null);
            if !v.is_null() {
                hookyard_core::verify::Verification::from_json(&v).map_err(|e| {
                    let field = match e.field.as_str() {
                        "" => f("verification"),
                        inner => f(&format!("verification.{inner}")),
                    };
                    ApiError::Unprocessable(format!("invalid field `{field}`: {}", e.message))
                })?;
            }
            s.verification = (!v.is_null()).then_some(v);
        }
        if let Some(max) = self.max_body_bytes {
            if max.is_some_and(|m| m < 1) {
                return Err(ApiError::Unprocessable(format!(
                    "{} must be at least 1",
                    f("max_body_bytes")
                )));
            }
            s.max_body_bytes = max;
        }
        if self.kind.is_some() || self.config.is_some() {
            let type_name = self
                .kind
                .as_deref()
                .map(str::to_ascii_uppercase)
                .unwrap_or_else(|| s.kind.type_name().to_owned());
            let config = match self.config {
                Some(c) => c,
                // Only the type given: the old config if the type stays.
                None if type_name == s.kind.type_name() => s.kind.config_json(),
                None => None,
            };
            s.kind = SourceKind::from_parts(&type_name, config).map_err(|e| {
                ApiError::Unprocessable(format!("invalid field `{}`: {}", f(&e.field), e.message))
            })?;
        }
        if let Some(t) = self.topic_from {
            if let Some(rule) = &t {
                rule.check().map_err(|e| {
                    ApiError::Unprocessable(format!("invalid field `{}`: {e}", f("topic_from")))
                })?;
            }
            s.topic_from = t;
        }
        s.updated_at = now;
        Ok(s)
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SourceListParams {
    pub id: Option<String>,
    pub name: Option<String>,
    pub disabled: Option<String>,
}

#[utoipa::path(get, path = "/sources", tag = "sources", params(SourceListParams, PageParams),
    responses((status = 200, description = "A page of sources")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    ListQuery(p, page): ListQuery<SourceListParams>,
) -> Result<Json<Paginated<SourceOut>>, ApiError> {
    let q = page.to_query()?;
    let f = SourceFilter {
        id: p.id,
        name: p.name,
        disabled: parse_flag("disabled", &p.disabled)?,
    };
    let page = st.store.list_sources(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |s| {
        views::source(&s, &st.public_url)
    })))
}

#[utoipa::path(post, path = "/sources", tag = "sources", request_body = SourceIn,
    responses((status = 200, body = SourceOut), (status = 409, description = "name taken"),
              (status = 422, description = "invalid field")))]
pub async fn create(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<SourceIn>,
) -> Result<Json<SourceOut>, ApiError> {
    let s = input.apply(None, "")?;
    st.catalog.insert_source(&s).await?;
    Ok(Json(views::source(&s, &st.public_url)))
}

#[utoipa::path(put, path = "/sources", tag = "sources", request_body = SourceIn,
    responses((status = 200, body = SourceOut)))]
/// Creates the source, or updates the one with this name.
pub async fn upsert(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<SourceIn>,
) -> Result<Json<SourceOut>, ApiError> {
    let name = input
        .name
        .clone()
        .ok_or_else(|| ApiError::Unprocessable("name is required".into()))?;
    let existing = st.store.find_source_by_name(&name).await?;
    let is_new = existing.is_none();
    let s = input.apply(existing, "")?;
    if is_new {
        st.catalog.insert_source(&s).await?;
    } else {
        st.catalog.update_source(&s).await?;
    }
    Ok(Json(views::source(&s, &st.public_url)))
}

pub async fn load(st: &AppState, id: &str) -> Result<Source, ApiError> {
    st.store
        .get_source(id)
        .await?
        .ok_or_else(|| ApiError::not_found("source", id))
}

#[utoipa::path(get, path = "/sources/{id}", tag = "sources",
    responses((status = 200, body = SourceOut), (status = 404, description = "no such source")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<SourceOut>, ApiError> {
    Ok(Json(views::source(&load(&st, &id).await?, &st.public_url)))
}

#[utoipa::path(put, path = "/sources/{id}", tag = "sources", request_body = SourceIn,
    responses((status = 200, body = SourceOut)))]
pub async fn update(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<SourceIn>,
) -> Result<Json<SourceOut>, ApiError> {
    let s = input.apply(Some(load(&st, &id).await?), "")?;
    st.catalog.update_source(&s).await?;
    Ok(Json(views::source(&s, &st.public_url)))
}

#[utoipa::path(delete, path = "/sources/{id}", tag = "sources",
    responses((status = 200, description = "`{\"id\"}` of the deleted source; its connections are deleted too")))]
pub async fn delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !st.catalog.delete_source(&id).await? {
        return Err(ApiError::not_found("source", &id));
    }
    Ok(Json(serde_json::json!({ "id": id })))
}

async fn set_disabled(
    st: &AppState,
    id: &str,
    disabled: bool,
) -> Result<Json<SourceOut>, ApiError> {
    let mut s = load(st, id).await?;
    let now = now_ms();
    s.disabled_at = if disabled {
        s.disabled_at.or(Some(now))
    } else {
        None
    };
    s.updated_at = now;
    st.catalog.update_source(&s).await?;
    Ok(Json(views::source(&s, &st.public_url)))
}

#[utoipa::path(put, path = "/sources/{id}/disable", tag = "sources",
    responses((status = 200, body = SourceOut)))]
pub async fn disable(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<SourceOut>, ApiError> {
    set_disabled(&st, &id, true).await
}

#[utoipa::path(put, path = "/sources/{id}/enable", tag = "sources",
    responses((status = 200, body = SourceOut)))]
pub async fn enable(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<SourceOut>, ApiError> {
    set_disabled(&st, &id, false).await
}

#[utoipa::path(put, path = "/sources/{id}/archive", tag = "sources",
    responses((status = 200, body = SourceOut)))]
/// Hookdeck's other name for disable (its SDK archives and unarchives).
pub async fn archive(
    st: State<Arc<AppState>>,
    id: Path<String>,
) -> Result<Json<SourceOut>, ApiError> {
    disable(st, id).await
}

#[utoipa::path(put, path = "/sources/{id}/unarchive", tag = "sources",
    responses((status = 200, body = SourceOut)))]
/// Hookdeck's other name for enable.
pub async fn unarchive(
    st: State<Arc<AppState>>,
    id: Path<String>,
) -> Result<Json<SourceOut>, ApiError> {
    enable(st, id).await
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/sources", get(list).post(create).put(upsert))
        .route("/sources/{id}", get(retrieve).put(update).delete(delete))
        .route("/sources/{id}/disable", put(disable))
        .route("/sources/{id}/enable", put(enable))
        // Hookdeck's SDK disables and enables through archive / unarchive.
        .route("/sources/{id}/archive", put(archive))
        .route("/sources/{id}/unarchive", put(unarchive))
}
