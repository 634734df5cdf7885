//! The REST management API, shaped like Hookdeck's (`/2024-09-01/…`): one file per
//! resource, each with its input types, handlers and a `router()`.
//!
//! Shared here: API-key auth, the JSON body extractor that names the failing field,
//! and seek pagination (`limit`, `next`, `prev`, `dir`, `order_by`).

pub mod attempts;
pub mod auth_method;
pub mod bookmarks;
pub mod bulk;
pub mod connections;
pub mod destinations;
pub mod event_metrics;
pub mod events;
pub mod filters;
pub mod issue_triggers;
pub mod issues;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod publish_keys;
pub mod query;
pub mod requests;
pub mod sources;
pub mod topics;
pub mod transformations;
pub mod validate;
pub mod views;

pub use query::{IncludeParams, ListQuery, NoParams, QueryParams, SearchQuery};

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Direction, Page, PageQuery, SortColumn};

pub use crate::config::API_VERSION;

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .merge(sources::router())
        .merge(destinations::router())
        .merge(connections::router())
        .merge(requests::router())
        .merge(events::router())
        .merge(attempts::router())
        .merge(issues::router())
        .merge(issue_triggers::router())
        .merge(bulk::router())
        .merge(transformations::router())
        .merge(bookmarks::router())
        .merge(filters::router())
        .merge(event_metrics::router())
        .merge(listen::router())
        .merge(publish_keys::router())
        .merge(topics::router())
        .layer(axum::middleware::from_fn_with_state(state, require_api_key))
        // Producers authenticate themselves, with a publish key or the API key.
        .route(
            "/publish",
            axum::routing::post(crate::ingest::publish::publish),
        )
        .route(
            "/publish/batch",
            axum::routing::post(crate::ingest::publish::publish_batch),
        )
}

/// Accepts `Authorization: Bearer <key>` and, as Hookdeck does, HTTP basic auth with
/// the key as the user name; or the dashboard's session cookie, with its CSRF token
/// in `X-CSRF-Token` on anything but a read.
async fn require_api_key(
    State(st): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = crate::state::presented_key(req.headers());
    if let Some(key) = given {
        if key.starts_with(crate::ingest::publish::PUBLISH_KEY_PREFIX) {
            return Err(ApiError::Forbidden(
                "this is a publish key: it can only publish (POST /publish); use the API key to \
                 read or change the configuration"
                    .into(),
            ));
        }
        return if is_api_key(&st, &key) {
            Ok(next.run(req).await)
        } else {
            Err(ApiError::Unauthorized)
        };
    }
    let session = session_of(&st, req.headers()).ok_or(ApiError::Unauthorized)?;
    if !req.method().is_safe() {
        require_csrf(&st, &session, req.headers())?;
    }
    Ok(next.run(req).await)
}

/// Whether `given` is the gateway's API key (compared in constant time).
pub fn is_api_key(st: &AppState, given: &str) -> bool {
    st.is_api_key(given)
}

/// A write made with the session cookie must carry the session's CSRF token:
/// another site can make a browser send the cookie, not the header.
pub fn require_csrf(
    st: &AppState,
    session: &crate::sessions::Session,
    headers: &axum::http::HeaderMap,
) -> Result<(), ApiError> {
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if st.sessions.csrf_ok(session, given) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a write signed in with the session cookie needs the session's `{CSRF_HEADER}` header"
        )))
    }
}

/// The name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "hookyard_session";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The dashboard session the request's cookie names, if it is valid.
pub fn session_of(
    st: &AppState,
    headers: &axum::http::HeaderMap,
) -> Option<crate::sessions::Session> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .find_map(|(_, value)| st.sessions.verify(value, crate::clock::now_ms()))
}

/// For fields where `null` means "remove" and absence means "leave as is":
/// absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub(crate) fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Deserializes the JSON value of field `name`; a 422 names the failing path
/// under it (`configs.threshold.rate`), as [`JsonBody`] does for whole bodies.
pub(crate) fn parse_field<T: DeserializeOwned>(
    name: &str,
    v: serde_json::Value,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            name.to_owned()
        } else {
            format!("{name}.{path}")
        };
        ApiError::Unprocessable(format!("invalid field `{at}`: {}", e.into_inner()))
    })
}

/// A JSON body whose errors say which field is wrong and why (422), or that the
/// body is not JSON at all (400).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest(
                "the request needs a JSON body".to_owned(),
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut de) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    Err(ApiError::BadRequest(format!(
                        "the body is not valid JSON: {inner}"
                    )))
                } else if path == "." {
                    Err(ApiError::Unprocessable(format!("invalid body: {inner}")))
                } else {
                    Err(ApiError::Unprocessable(format!(
                        "invalid field `{path}`: {inner}"
                    )))
                }
            }
        }
    }
}

/// Seek pagination parameters, as in Hookdeck's list endpoints.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 250 (default 100).
    pub limit: Option<i64>,
    /// Cursor from a previous page's `pagination.next`.
    pub next: Option<String>,
    /// Cursor from a previous page's `pagination.prev`.
    pub prev: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    pub dir: Option<String>,
    /// `created_at` (the default); events also take `last_attempt_at`, requests
    /// `ingested_at`, issues `first_seen_at`, `last_seen_at`, `opened_at` and
    /// `status`, issue triggers `type`.
    pub order_by: Option<String>,
}

/// The name of a sort order in the API.
fn order_name(o: Option<SortColumn>) -> &'static str {
    match o {
        None | Some(SortColumn::CreatedAt) => "created_at",
        Some(SortColumn::LastAttemptAt) => "last_attempt_at",
        Some(SortColumn::ReceivedAt) => "ingested_at",
        Some(SortColumn::FirstSeenAt) => "first_seen_at",
        Some(SortColumn::LastSeenAt) => "last_seen_at",
        Some(SortColumn::OpenedAt) => "opened_at",
        Some(SortColumn::IssueStatus) => "status",
        Some(SortColumn::TriggerType) => "type",
    }
}

impl PageParams {
    /// The page of a list sorted by creation only.
    pub fn to_query(&self) -> Result<PageQuery, ApiError> {
        self.to_query_sorted(&[])
    }

    /// The page of a list that may also be sorted by `sorts`.
    pub fn to_query_sorted(&self, sorts: &[SortColumn]) -> Result<PageQuery, ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=250).contains(&limit) {
            return Err(ApiError::Unprocessable(
                "limit must be between 1 and 250".into(),
            ));
        }
        let dir = match self.dir.as_deref() {
            None | Some("desc") => Direction::Desc,
            Some("asc") => Direction::Asc,
            Some(other) => {
                return Err(ApiError::Unprocessable(format!(
                    "dir must be `asc` or `desc`, not {other:?}"
                )))
            }
        };
        let order_by = match self.order_by.as_deref() {
            None | Some("created_at") => None,
            Some(o) => match sorts.iter().find(|s| order_name(Some(**s)) == o) {
                Some(s) => Some(*s),
                None => {
                    let mut allowed = vec!["`created_at`".to_owned()];
                    allowed.extend(sorts.iter().map(|s| format!("`{}`", order_name(Some(*s)))));
                    return Err(ApiError::Unprocessable(format!(
                        "order_by must be {}, not {o:?}",
                        allowed.join(" or ")
                    )));
                }
            },
        };
        Ok(PageQuery {
            limit,
            dir,
            order_by,
            next: self.next.clone(),
            prev: self.prev.clone(),
            no_count: false,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pagination {
    pub order_by: &'static str,
    pub dir: &'static str,
    pub limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

/// A page in Hookdeck's shape: `{pagination, count, models}`. `count` is exact up
/// to [`crate::store::COUNT_CAP`] (10,000), which it shows for that many or more:
/// counting every match of a million-row table on each page is a scan per page.
/// On lists filtered by content (`body`, `headers`, `path`, `parsed_query`,
/// `search_term`) it is the matches found while reading this page (at least).
#[derive(Debug, Serialize)]
pub struct Paginated<T> {
    pub pagination: Pagination,
    pub count: i64,
    pub models: Vec<T>,
}

impl<T> Paginated<T> {
    pub fn from_page<U>(page: Page<U>, q: &PageQuery, f: impl FnMut(U) -> T) -> Self {
        Paginated {
            pagination: Pagination {
                order_by: order_name(q.order_by),
                dir: match q.dir {
                    Direction::Desc => "desc",
                    Direction::Asc => "asc",
                },
                limit: q.limit,
                next: page.next,
                prev: page.prev,
            },
            count: page.count,
            models: page.models.into_iter().map(f).collect(),
        }
    }
}

/// Parses Hookdeck's boolean query flags (`true`/`false`).
pub fn parse_flag(name: &str, v: &Option<String>) -> Result<Option<bool>, ApiError> {
    match v.as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::Unprocessable(format!(
            "{name} must be true or false, not {other:?}"
        ))),
    }
}
