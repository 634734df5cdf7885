//! `/bookmarks`: a stored request saved under a label for a connection, and
//! `trigger`, which sends it through that connection again with the connection's
//! rules as they are now (the one rules walker, transformations included).
//!
//! `event_data_id` is the id of the stored request (`req_…`), as on events.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{self, EventOut, RequestData, TEAM_ID};
use super::views::{raw_body, RawBody};
use super::{validate, JsonBody, ListQuery, PageParams, Paginated};
use crate::clock::{new_id, now_ms, rfc3339};
use crate::error::ApiError;
use crate::model::{Bookmark, BookmarkFilter, Connection, RequestRecord};
use crate::signals::Signal;
use crate::state::AppState;

/// A bookmark to create (all of `event_data_id`, `webhook_id`, `label`), or
/// the fields of one to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookmarkIn {
    /// The stored request to bookmark (`req_…`).
    pub event_data_id: Option<String>,
    /// The connection to send it through.
    pub webhook_id: Option<String>,
    /// 1 to 255 characters.
    pub label: Option<String>,
    /// Unique; letters, digits, `-` and `_`.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookmarkOut {
    pub id: String,
    pub team_id: &'static str,
    pub webhook_id: String,
    pub event_data_id: String,
    pub label: String,
    pub alias: Option<String>,
    /// The bookmarked request's data (on retrieve; absent when the request is
    /// no longer stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<RequestData>,
    pub last_used_at: Option<String>,
    pub updated_at: String,
    pub created_at: String,
}

fn out(b: &Bookmark, data: Option<RequestData>) -> BookmarkOut {
    BookmarkOut {
        id: b.id.clone(),
        team_id: TEAM_ID,
        webhook_id: b.connection_id.clone(),
        event_data_id: b.request_id.clone(),
        label: b.label.clone(),
        alias: b.name.clone(),
        data,
        last_used_at: b.last_used_at.map(rfc3339),
        updated_at: rfc3339(b.updated_at),
        created_at: rfc3339(b.created_at),
    }
}

async fn load(st: &AppState, id: &str) -> Result<Bookmark, ApiError> {
    st.store
        .get_bookmark(id)
        .await?
        .ok_or_else(|| ApiError::not_found("bookmark", id))
}

/// The bookmark's connection; gone: a 404 that says what to do.
async fn connection_of(st: &AppState, b: &Bookmark) -> Result<Connection, ApiError> {
    st.store
        .get_connection(&b.connection_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "bookmark {:?}: its connection {:?} was deleted; point it at another \
             connection (PUT webhook_id) or delete it",
                b.id, b.connection_id
            ))
        })
}

/// The bookmarked request with its body; gone (deleted by retention): a 404.
async fn request_of(st: &AppState, b: &Bookmark) -> Result<RequestRecord, ApiError> {
    st.store
        .get_request(&b.request_id, true)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "bookmark {:?}: its request {:?} is no longer stored",
                b.id, b.request_id
            ))
        })
}

impl BookmarkIn {
    /// Applies these fields to `base` (a new bookmark when `None`), checking
    /// each and that the request is one of the connection's source.
    async fn apply(self, st: &AppState, base: Option<Bookmark>) -> Result<Bookmark, ApiError> {
        let now = now_ms();
        let is_new = base.is_none();
        let missing = |f: &str| ApiError::Unprocessable(format!("{f} is required"));
        let mut b = match base {
            Some(b) => b,
            None => Bookmark {
                id: new_id(IdKind::Bookmark),
                name: None,
                label: String::new(),
                connection_id: self
                    .webhook_id
                    .clone()
                    .ok_or_else(|| missing("webhook_id"))?,
                request_id: self
                    .event_data_id
                    .clone()
                    .ok_or_else(|| missing("event_data_id"))?,
                last_used_at: None,
                created_at: now,
                updated_at: now,
            },
        };
        if let Some(label) = self.label {
            if label.trim().is_empty() || label.chars().count() > 255 || label.contains('\0') {
                return Err(ApiError::Unprocessable(
                    "label must be 1 to 255 characters (no NUL)".into(),
                ));
            }
            b.label = label;
        } else if is_new {
            return Err(missing("label"));
        }
        if let Some(name) = self.name {
            validate::name("name", &name)?;
            b.name = Some(name);
        }
        if let Some(w) = self.webhook_id {
            b.connection_id = w;
        }
        if let Some(r) = self.event_data_id {
            b.request_id = r;
        }
        let conn = st
            .store
            .get_connection(&b.connection_id)
            .await?
            .ok_or_else(|| {
                ApiError::Unprocessable(format!("webhook_id: no connection {:?}", b.connection_id))
            })?;
        let req = st
            .store
            .get_request(&b.request_id, false)
            .await?
            .ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "event_data_id: no stored request {:?}",
                    b.request_id
                ))
            })?;
        // Triggering routes it as its own source's request would be.
        if req.source_id != conn.source_id {
            return Err(ApiError::Unprocessable(format!(
                "event_data_id: request {:?} came to another source than connection {:?}'s",
                req.id, conn.id
            )));
        }
        b.updated_at = now;
        Ok(b)
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookmarkListParams {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Connection id.
    pub webhook_id: Option<String>,
    /// Request id.
    pub event_data_id: Option<String>,
    pub label: Option<String>,
}

#[utoipa::path(get, path = "/bookmarks", tag = "bookmarks",
    params(BookmarkListParams, PageParams),
    responses((status = 200, description = "A page of bookmarks"),
              (status = 422, description = "an unknown or invalid parameter")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    ListQuery(p, page): ListQuery<BookmarkListParams>,
) -> Result<Json<Paginated<BookmarkOut>>, ApiError> {
    let q = page.to_query()?;
    let f = BookmarkFilter {
        id: p.id,
        name: p.name,
        connection_id: p.webhook_id,
        request_id: p.event_data_id,
        label: p.label,
    };
    let page = st.store.list_bookmarks(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |b| out(&b, None))))
}

#[utoipa::path(post, path = "/bookmarks", tag = "bookmarks", request_body = BookmarkIn,
    responses((status = 200, body = BookmarkOut),
              (status = 422, description = "a missing or invalid field, an unknown connection or request, or a name taken")))]
pub async fn create(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<BookmarkIn>,
) -> Result<Json<BookmarkOut>, ApiError> {
    let b = input.apply(&st, None).await?;
    st.store.insert_bookmark(&b).await?;
    Ok(Json(out(&b, None)))
}

#[utoipa::path(get, path = "/bookmarks/{id}", tag = "bookmarks",
    params(("id" = String, Path, description = "Bookmark id")),
    responses((status = 200, body = BookmarkOut), (status = 404, description = "no such bookmark")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<BookmarkOut>, ApiError> {
    let b = load(&st, &id).await?;
    let data = st
        .store
        .get_request(&b.request_id, true)
        .await?
        .and_then(|r| views::request_data(&r));
    Ok(Json(out(&b, data)))
}

#[utoipa::path(put, path = "/bookmarks/{id}", tag = "bookmarks", request_body = BookmarkIn,
    params(("id" = String, Path, description = "Bookmark id")),
    responses((status = 200, body = BookmarkOut), (status = 404, description = "no such bookmark"),
              (status = 422, description = "an invalid field")))]
pub async fn update(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<BookmarkIn>,
) -> Result<Json<BookmarkOut>, ApiError> {
    let b = input.apply(&st, Some(load(&st, &id).await?)).await?;
    st.store.update_bookmark(&b).await?;
    Ok(Json(out(&b, None)))
}

#[utoipa::path(delete, path = "/bookmarks/{id}", tag = "bookmarks",
    params(("id" = String, Path, description = "Bookmark id")),
    responses((status = 200, description = "`{id}` of the deleted bookmark"),
              (status = 404, description = "no such bookmark")))]
pub async fn delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !st.store.delete_bookmark(&id).await? {
        return Err(ApiError::not_found("bookmark", &id));
    }
    Ok(Json(serde_json::json!({ "id": id })))
}

#[utoipa::path(get, path = "/bookmarks/{id}/raw_body", tag = "bookmarks",
    params(("id" = String, Path, description = "Bookmark id")),
    responses((status = 200, body = RawBody),
              (status = 404, description = "no such bookmark, or its request is no longer stored")))]
pub async fn raw(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RawBody>, ApiError> {
    let b = load(&st, &id).await?;
    let r = request_of(&st, &b).await?;
    Ok(Json(raw_body(r.body.as_deref().unwrap_or_default())))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerIn {
    /// `http` (the connection's destination, the default) or `cli`; Hookyard
    /// sends to the connection's destination either way, a CLI destination
    /// included.
    pub target: Option<String>,
}

#[utoipa::path(post, path = "/bookmarks/{id}/trigger", tag = "bookmarks", request_body = TriggerIn,
    params(("id" = String, Path, description = "Bookmark id")),
    responses((status = 200, body = [EventOut], description = "The events created (none when the connection's rules ignore the request now)"),
              (status = 404, description = "no such bookmark, or its connection or request is gone"),
              (status = 422, description = "an invalid target")))]
/// Sends the bookmarked request through its connection again, with all its
/// rules as they are now (filter, transformation, delay).
pub async fn trigger(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<TriggerIn>,
) -> Result<Json<Vec<EventOut>>, ApiError> {
    if let Some(t) = input.target.as_deref() {
        if t != "http" && t != "cli" {
            return Err(ApiError::Unprocessable(format!(
                "target must be `http` or `cli`, not {t:?}"
            )));
        }
    }
    let b = load(&st, &id).await?;
    let conn = connection_of(&st, &b).await?;
    let req = request_of(&st, &b).await?;
    let events =
        crate::route::reroute_request(&st.store, &st.rules, &st.transforms, req, vec![conn], None)
            .await?;
    st.store.touch_bookmark(&b.id, now_ms()).await?;
    if !events.is_empty() {
        st.signals.notify(Signal::Dispatch);
    }
    Ok(Json(events.iter().map(|e| views::event(e, None)).collect()))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/bookmarks", get(list).post(create))
        .route("/bookmarks/{id}", get(retrieve).put(update).delete(delete))
        .route("/bookmarks/{id}/raw_body", get(raw))
        .route("/bookmarks/{id}/trigger", post(trigger))
}
