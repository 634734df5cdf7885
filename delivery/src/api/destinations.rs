//! `/destinations`: where events are delivered.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::Deserialize;
use utoipa::ToSchema;

use super::views::{self, DestinationOut};
use super::{auth_method, parse_flag, validate, JsonBody, ListQuery, PageParams, Paginated};
use crate::clock::{new_id, now_ms};
use crate::error::ApiError;
use crate::model::DestinationBacklog;
use crate::model::{Destination, DestinationKind, RateLimitPeriod};
use crate::state::AppState;
use crate::store::DestinationFilter;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationIn {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Hookyard's addition: `HTTP` (default), `CLI` (`hookyard listen`; also
    /// what a new destination with a `cli_path` and no `url` is), `MOCK_API`,
    /// `RABBITMQ`, `NATS`, `AWS_SQS`, `AWS_EVENTBRIDGE` or `REDIS_STREAM`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Hookyard's addition: the type's settings, replaced whole when given:
    /// `RabbitMqConfig`, `NatsConfig`, `SqsConfig`, `EventBridgeConfig` or
    /// `RedisStreamConfig` (see the schemas). HTTP destinations use the fields
    /// of this object instead (`url`, `http_method`, `auth_method`…).
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// The HTTP endpoint events are sent to (HTTP destinations).
    pub url: Option<String>,
    /// CLI destinations: the path on the developer's local server, before the
    /// path the provider used (default `/`).
    pub cli_path: Option<String>,
    /// Most attempts per `rate_limit_period` (`second`, `minute`, `hour`), spaced
    /// evenly; with `concurrent`, most attempts in flight at once. Covers every
    /// event and retry of the destination. `null` removes the limit.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub rate_limit: Option<Option<i64>>,
    #[schema(value_type = Option<String>)]
    pub rate_limit_period: Option<RateLimitPeriod>,
    /// Hookyard's addition: most attempts in flight at once, besides a rate.
    /// `null` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_concurrency: Option<Option<i64>>,
    /// Hookyard's addition: consecutive failed attempts after which the
    /// destination disables itself and holds its events (0: never; `null`: the
    /// gateway's `delivery.auto_disable_after`).
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub auto_disable_after: Option<Option<i64>>,
    /// Method of deliveries; default: the method the provider used.
    pub http_method: Option<String>,
    /// `{"type": "BEARER_TOKEN" | "BASIC_AUTH" | "API_KEY" | "HOOKDECK_SIGNATURE" |
    /// "STANDARD_WEBHOOKS" | "CUSTOM_SIGNATURE" | "OAUTH2_CLIENT_CREDENTIALS", "config": {…}}`;
    /// a signing secret left out is generated. `null` removes it. Read by
    /// [`super::auth_method::parse`], so errors name the config's field.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<Object>)]
    pub auth_method: Option<Option<serde_json::Value>>,
    /// Do not append the path the provider used to `url`.
    pub path_forwarding_disabled: Option<bool>,
}

impl DestinationIn {
    pub fn apply(
        mut self,
        base: Option<Destination>,
        field: &str,
    ) -> Result<Destination, ApiError> {
        let now = now_ms();
        let f = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        let is_new = base.is_none();
        let mut d = match base {
            Some(d) => d,
            None => Destination::new(new_id(IdKind::Destination), String::new(), None, now),
        };
        if let Some(name) = self.name.take() {
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
            d.description = self.description.take();
        }
        self.apply_kind(&mut d, is_new, &f)?;
        if let Some(url) = self.url {
            validate::url(&f("url"), &url)?;
            d.url = Some(url);
        }
        if let Some(p) = self.cli_path {
            validate::cli_path(&f("cli_path"), &p)?;
            d.cli_path = Some(p);
        }
        if matches!(d.kind, DestinationKind::Cli) && d.cli_path.is_none() {
            d.cli_path = Some("/".to_owned());
        }
        if d.kind.is_http() && d.url.is_none() {
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
            d.auth_method = match a {
                Some(v) => Some(auth_method::parse(
                    &f("auth_method"),
                    v,
                    d.auth_method.as_ref(),
                )?),
                None => None,
            };
        }
        match self.rate_limit {
            Some(Some(limit)) if !(1..=1_000_000).contains(&limit) => {
                return Err(ApiError::Unprocessable(format!(
                    "{} must be between 1 and 1000000",
                    f("rate_limit")
                )));
            }
            Some(Some(limit)) => {
                d.rate_limit = Some(limit);
                d.rate_limit_period = Some(d.rate_limit_period.unwrap_or(RateLimitPeriod::Second));
            }
            Some(None) => {
                d.rate_limit = None;
                d.rate_limit_period = None;
            }
            None => {}
        }
        if let Some(p) = self.rate_limit_period {
            d.rate_limit_period = Some(p);
        }
        match self.max_concurrency {
            Some(Some(c)) if !(1..=10_000).contains(&c) => {
                return Err(ApiError::Unprocessable(format!(
                    "{} must be between 1 and 10000",
                    f("max_concurrency")
                )));
            }
            Some(c) => d.max_concurrency = c,
            None => {}
        }
        match self.auto_disable_after {
            Some(Some(n)) if n < 0 => {
                return Err(ApiError::Unprocessable(format!(
                    "{} must be 0 (never) or more",
                    f("auto_disable_after")
                )));
            }
            Some(n) => d.auto_disable_after = n,
            None => {}
        }
        if let Some(p) = self.path_forwarding_disabled {
            d.path_forwarding_disabled = p;
        }
        d.updated_at = now;
        Ok(d)
    }
}

impl DestinationIn {
    /// Sets `type` and `config`. A `config` replaces the old one whole; a `type`
    /// given alone keeps the config only if the type is unchanged. A destination
    /// that is not HTTP takes none of the HTTP fields, and loses them when it
    /// changes type.
    fn apply_kind(
        &mut self,
        d: &mut Destination,
        is_new: bool,
        f: &dyn Fn(&str) -> String,
    ) -> Result<(), ApiError> {
        let type_name = match &self.kind {
            Some(t) => t.to_ascii_uppercase(),
            // Hookdeck's way to make a CLI destination: a `cli_path` and no `url`.
            None if is_new && self.cli_path.is_some() && self.url.is_none() => "CLI".to_owned(),
            None => d.kind.type_name().to_owned(),
        };
        let config = self.config.take();
        if config.is_some() || type_name != d.kind.type_name() {
            d.kind = DestinationKind::from_parts(&type_name, config).map_err(|e| {
                let field = if e.field == "type" {
                    f("type")
                } else {
                    f(&e.field)
                };
                ApiError::Unprocessable(format!("{field} {}", e.message))
            })?;
        }
        match d.kind {
            DestinationKind::Http => {
                if self.cli_path.is_some() {
                    return Err(ApiError::Unprocessable(format!(
                        "{} is for CLI destinations (`hookyard listen`); an HTTP \
                         destination delivers to its {}",
                        f("cli_path"),
                        f("url")
                    )));
                }
                d.cli_path = None;
                return Ok(());
            }
            DestinationKind::Cli => {
                if self.url.is_some() {
                    return Err(ApiError::Unprocessable(format!(
                        "{} is only for HTTP destinations; a CLI destination delivers \
                         to whichever `hookyard listen` is connected, at its {}",
                        f("url"),
                        f("cli_path")
                    )));
                }
                if matches!(
                    &self.auth_method,
                    Some(Some(v)) if v.get("type").and_then(|t| t.as_str())
                        == Some("OAUTH2_CLIENT_CREDENTIALS")
                ) {
                    return Err(ApiError::Unprocessable(format!(
                        "{} OAUTH2_CLIENT_CREDENTIALS is not available on CLI \
                         destinations: the local endpoint gets no token",
                        f("auth_method.type")
                    )));
                }
                d.url = None;
                return Ok(());
            }
            _ => {}
        }
        let http_only = [
            ("url", self.url.is_some()),
            ("http_method", self.http_method.is_some()),
            ("auth_method", matches!(self.auth_method, Some(Some(_)))),
            (
                "path_forwarding_disabled",
                self.path_forwarding_disabled.is_some(),
            ),
            ("cli_path", self.cli_path.is_some()),
        ];
        if let Some((name, _)) = http_only.iter().find(|(_, given)| *given) {
            return Err(ApiError::Unprocessable(format!(
                "{} is only for HTTP destinations; a {} destination is set up in {}",
                f(name),
                type_name,
                f("config")
            )));
        }
        d.url = None;
        d.http_method = None;
        d.auth_method = None;
        d.cli_path = None;
        d.path_forwarding_disabled = false;
        Ok(())
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
    ListQuery(p, page): ListQuery<DestinationListParams>,
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
    st.catalog.insert_destination(&d).await?;
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
        st.catalog.insert_destination(&d).await?;
    } else {
        st.catalog.update_destination(&d).await?;
    }
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
    st.catalog.update_destination(&d).await?;
    Ok(Json(views::destination(&d)))
}

#[utoipa::path(delete, path = "/destinations/{id}", tag = "destinations",
    responses((status = 200, description = "`{\"id\"}`; its connections are deleted too")))]
pub async fn delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !st.catalog.delete_destination(&id).await? {
        return Err(ApiError::not_found("destination", &id));
    }
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
    if !disabled {
        d.disabled_reason = None;
    }
    d.updated_at = now;
    st.catalog.update_destination(&d).await?;
    if !disabled {
        // A fresh start: the failure streak that disabled it is over.
        st.store.reset_destination_health(&d.id).await?;
    }
    Ok(Json(views::destination(&d)))
}

#[utoipa::path(put, path = "/destinations/{id}/disable", tag = "destinations",
    responses((status = 200, body = DestinationOut)))]
/// Stops deliveries; its events are held until the destination is enabled again.
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

#[utoipa::path(get, path = "/destinations/{id}/backlog", tag = "destinations",
    responses((status = 200, body = DestinationBacklog), (status = 404, description = "no such destination")))]
/// Hookyard's addition: events waiting for the destination (queued, due now,
/// held) and the age of the oldest.
pub async fn backlog(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<DestinationBacklog>, ApiError> {
    load(&st, &id).await?;
    Ok(Json(st.store.backlog_of(&id).await?))
}

#[utoipa::path(put, path = "/destinations/{id}/archive", tag = "destinations",
    responses((status = 200, body = DestinationOut)))]
/// Hookdeck's other name for disable (its SDK archives and unarchives).
pub async fn archive(
    st: State<Arc<AppState>>,
    id: Path<String>,
) -> Result<Json<DestinationOut>, ApiError> {
    disable(st, id).await
}

#[utoipa::path(put, path = "/destinations/{id}/unarchive", tag = "destinations",
    responses((status = 200, body = DestinationOut)))]
/// Hookdeck's other name for enable.
pub async fn unarchive(
    st: State<Arc<AppState>>,
    id: Path<String>,
) -> Result<Json<DestinationOut>, ApiError> {
    enable(st, id).await
}

/// What the destination answered to a test message.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct TestOut {
    /// The destination accepted the message (a 2xx, the broker's confirm).
    pub success: bool,
    pub destination_id: String,
    /// The test message's id (sent as the event id: `x-hookyard-event-id`,
    /// the broker's message id).
    pub message_id: String,
    pub response_status: Option<u16>,
    /// What the destination or broker answered (for brokers, their ids as JSON).
    pub response_body: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Where it went (URL, broker address and subject…), credentials removed.
    pub requested_url: Option<String>,
    pub duration_ms: i64,
}

/// The request a test sends: a small JSON body saying what it is.
fn test_request(d: &Destination) -> crate::model::RequestRecord {
    let now = now_ms();
    let body = serde_json::json!({
        "type": "hookyard.test",
        "message": "A test message from Hookyard: this destination is reachable.",
        "destination": { "id": d.id, "name": d.name },
        "sent_at": crate::clock::rfc3339(now),
    })
    .to_string()
    .into_bytes();
    crate::model::RequestRecord {
        id: new_id(IdKind::Request),
        source_id: "src_test".into(),
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-test-message".into(), "true".into()),
            ("x-event-type".into(), "hookyard.test".into()),
        ],
        body_size: body.len() as i64,
        body: Some(body),
        verified: None,
        rejection_cause: None,
        topic: Some("hookyard.test".into()),
        events_count: 0,
        ignored_count: 0,
        routed: false,
        received_at: now,
        created_at: now,
        updated_at: now,
    }
}

#[utoipa::path(put, path = "/destinations/{id}/test", tag = "destinations",
    responses((status = 200, body = TestOut, description = "what the destination answered (success or not)"),
        (status = 404, description = "no such destination")))]
/// Hookyard's addition: sends one test message to the destination, as an event
/// would go (same adapter, auth and signatures), and answers what it said, so
/// credentials and addresses can be checked before traffic is routed. Nothing
/// is stored; a disabled destination is tested too.
pub async fn test(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<TestOut>, ApiError> {
    let d = load(&st, &id).await?;
    let message_id = new_id(IdKind::Event);
    let request = test_request(&d);
    let started = std::time::Instant::now();
    let result = st
        .adapters
        .for_destination(&d)
        .deliver(&crate::destinations::Delivery {
            event_id: &message_id,
            connection_id: "",
            request: &request,
            destination: &d,
            attempt_number: 1,
        })
        .await;
    Ok(Json(TestOut {
        success: result.success,
        destination_id: d.id,
        message_id,
        response_status: result.response_status,
        response_body: result.response_body,
        error_code: result.error_code.map(str::to_owned),
        error_message: result
            .error_message
            .as_deref()
            .map(crate::egress::redact::urls_in),
        requested_url: result.requested_url,
        duration_ms: started.elapsed().as_millis() as i64,
    }))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/destinations/{id}/backlog", get(backlog))
        .route("/destinations", get(list).post(create).put(upsert))
        .route(
            "/destinations/{id}",
            get(retrieve).put(update).delete(delete),
        )
        .route("/destinations/{id}/disable", put(disable))
        .route("/destinations/{id}/enable", put(enable))
        .route("/destinations/{id}/archive", put(archive))
        .route("/destinations/{id}/unarchive", put(unarchive))
        .route("/destinations/{id}/test", put(test))
}
