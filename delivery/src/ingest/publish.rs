//! `POST /publish` and `POST /publish/batch`: where a company's own services
//! publish events (a source, a topic, the data), authenticated with a publish
//! key (or the API key), each answered with its request id only after commit.
//!
//! The shape is Outpost's publish call (`topic`, `data`, an id for idempotency)
//! aimed at one of Hookyard's sources: Hookdeck's 2024-09-01 API has no publish
//! endpoint (producers POST to the source URL, which `/e/<source>` still is).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::Json;
use hookyard_core::envelope::Envelope;
use hookyard_core::id::IdKind;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::clock::{new_id, now_ms};
use crate::error::ApiError;
use crate::ingest::body::{receive_up_to, BodyError, Budget};
use crate::ingest::committer::{CommitError, Committed};
use crate::model::{check_topic, NewRequest, PublishKey, Source};
use crate::state::AppState;

/// What publish keys start with, so one is recognised (and refused with a
/// clear word by the management API).
pub const PUBLISH_KEY_PREFIX: &str = "hkpub_";

/// The most events in one batch.
pub const MAX_BATCH: usize = 1000;

/// The longest idempotency key, in bytes.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The SHA-256 of a key, hex: what is stored and looked up.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Who publishes.
enum Publisher {
    /// The API key: any source.
    Management,
    Key(Arc<PublishKey>),
}

/// `Authorization: Bearer <publish key or API key>` (or basic auth with the key
/// as user name, as the API takes it).
async fn publisher(st: &AppState, headers: &HeaderMap) -> Result<Publisher, ApiError> {
    let given = crate::state::presented_key(headers).ok_or(ApiError::Unauthorized)?;
    if given.starts_with(PUBLISH_KEY_PREFIX) {
        return match st.catalog.publish_key(&key_hash(&given)).await? {
            Some(k) => Ok(Publisher::Key(k)),
            None => Err(ApiError::Unauthorized),
        };
    }
    if st.is_api_key(&given) {
        Ok(Publisher::Management)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// One event to publish.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishIn {
    /// The source's name (or give `source_id`).
    source: Option<String>,
    source_id: Option<String>,
    topic: Option<String>,
    /// Any JSON; it is the request's body.
    data: Option<Value>,
    /// Sent along with the event to its destinations.
    #[serde(default)]
    headers: HashMap<String, String>,
    /// A second publish with this key (within the source, while the first
    /// request is kept) is not stored again: it is answered with the first id.
    idempotency_key: Option<String>,
}

/// A field error, named as the caller wrote it (`events[3].topic`).
fn invalid(at: &str, field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable(format!("invalid field `{at}{field}`: {message}"))
}

/// Checks one event and makes the request it becomes. `at` prefixes field names.
async fn prepare(
    st: &AppState,
    who: &Publisher,
    value: Value,
    at: &str,
    header_key: Option<&str>,
) -> Result<NewRequest, ApiError> {
    let p: PublishIn = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "" } else { path.as_str() };
        ApiError::Unprocessable(format!(
            "invalid field `{}`: {}",
            format!("{at}{field}").trim_end_matches('.'),
            e.into_inner()
        ))
    })?;
    let source = find_source(st, &p, at).await?;
    if let Publisher::Key(k) = who {
        if !k.may_publish_to(&source.id) {
            return Err(ApiError::Forbidden(format!(
                "publish key {:?} may not publish to source {:?}",
                k.name, source.name
            )));
        }
    }
    if source.kind.is_broker() {
        return Err(ApiError::Conflict(format!(
            "source {:?} is consumed from {}; publish to the broker, or to a WEBHOOK source",
            source.name,
            source.kind.type_name()
        )));
    }
    if source.disabled_at.is_some() {
        return Err(ApiError::Conflict(format!(
            "source {:?} is disabled; enable it to publish to it",
            source.name
        )));
    }
    let topic = p.topic.ok_or_else(|| {
        invalid(
            at,
            "topic",
            "is required (the event's type, like `invoice.created`)",
        )
    })?;
    check_topic(&topic).map_err(|e| invalid(at, "topic", e))?;
    let data = p
        .data
        .ok_or_else(|| invalid(at, "data", "is required (any JSON)"))?;
    let body = serde_json::to_vec(&data).map_err(|e| invalid(at, "data", e))?;
    let limit = source
        .max_body_bytes
        .map(|l| l.max(0) as usize)
        .unwrap_or(st.config.ingest.max_body_bytes);
    if body.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "`{at}data` is {} bytes as JSON; source {:?} accepts at most {limit}",
            body.len(),
            source.name
        )));
    }
    let headers = publish_headers(p.headers, at)?;
    let key = match (p.idempotency_key, header_key) {
        (Some(k), _) => Some(k),
        (None, Some(k)) => Some(k.to_owned()),
        (None, None) => None,
    };
    if let Some(k) = &key {
        if k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY || k.chars().any(char::is_control) {
            return Err(invalid(
                at,
                "idempotency_key",
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY} bytes without control characters"),
            ));
        }
    }
    Ok(NewRequest {
        envelope: Envelope {
            id: new_id(IdKind::Request),
            source: source.name.clone(),
            received_at_ms: now_ms(),
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers,
            body,
        },
        source_id: source.id.clone(),
        verified: None,
        rejection_cause: None,
        route: None,
        topic: Some(topic),
        dedup_key: key,
    })
}

async fn find_source(st: &AppState, p: &PublishIn, at: &str) -> Result<Arc<Source>, ApiError> {
    match (&p.source, &p.source_id) {
        (Some(name), None) => st
            .catalog
            .source_by_name(name)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("source {name:?} does not exist"))),
        (None, Some(id)) => st
            .catalog
            .source(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("source_id {id:?} does not exist"))),
        (Some(_), Some(_)) => Err(invalid(
            at,
            "source",
            "give either source or source_id, not both",
        )),
        (None, None) => Err(invalid(
            at,
            "source",
            "is required (a source's name, or give source_id)",
        )),
    }
}

/// The event's headers as stored: lowercase names that HTTP can carry, values
/// without line breaks; JSON content unless the producer says otherwise.
fn publish_headers(
    given: HashMap<String, String>,
    at: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    if given.len() > 100 {
        return Err(invalid(at, "headers", "must have at most 100 entries"));
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(given.len() + 1);
    let mut names: Vec<_> = given.into_iter().collect();
    names.sort();
    for (name, value) in names {
        let lower = name.to_ascii_lowercase();
        if HeaderName::from_bytes(lower.as_bytes()).is_err() {
            return Err(invalid(
                at,
                &format!("headers.{name}"),
                "is not a valid HTTP header name",
            ));
        }
        if HeaderValue::from_str(&value).is_err() {
            return Err(invalid(
                at,
                &format!("headers.{name}"),
                "must be visible text without line breaks",
            ));
        }
        out.push((lower, value));
    }
    if !out.iter().any(|(k, _)| k == "content-type") {
        out.push(("content-type".into(), "application/json".into()));
    }
    Ok(out)
}

/// The publish call's body, read within the ingest budget and the gateway's
/// body limit (a batch as a whole, too).
async fn read_body(st: &AppState, body: Body) -> Result<Value, ApiError> {
    let max = st.config.ingest.max_body_bytes as u64 + (64 << 10);
    let budget = Budget {
        room: &st.ingest_budget,
        total_kib: st.ingest_budget_kib,
        wait: Duration::from_millis(st.config.ingest.budget_wait_ms),
        idle_ms: st.config.server.body_read_timeout_ms,
    };
    let received = receive_up_to(
        body,
        max,
        || BodyError::TooLarge(hookyard_core::ingest::Refusal::TooLarge { limit: max }),
        &budget,
    )
    .await?;
    serde_json::from_slice(&received.bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))
}

async fn commit(st: &AppState, req: NewRequest) -> Result<Committed, ApiError> {
    st.committer.commit(req).await.map_err(|e| match e {
        CommitError::Store(e) => {
            ApiError::Unavailable(format!("the event could not be stored ({e}); retry"))
        }
        CommitError::Closed => ApiError::Unavailable("the gateway is shutting down; retry".into()),
    })
}

fn published(c: &Committed, r: &NewRequest) -> Value {
    json!({
        "request_id": c.request_id,
        "duplicate": c.duplicate,
        "source_id": r.source_id,
        "topic": r.topic,
    })
}

/// Publishes one event. `Idempotency-Key` (header) works as `idempotency_key`.
#[utoipa::path(post, path = "/publish", tag = "publish",
    request_body(content = Object, description = "`{\"source\" (or \"source_id\"), \"topic\", \"data\", \"headers\"?, \"idempotency_key\"?}`; authenticate with a publish key or the API key"),
    responses((status = 200, description = "`{\"request_id\", \"duplicate\", \"source_id\", \"topic\"}`, after the commit"),
              (status = 401, description = "no valid key"), (status = 403, description = "the publish key may not publish to this source"),
              (status = 404, description = "no such source"), (status = 413, description = "data larger than the source accepts"),
              (status = 422, description = "invalid field, named")))]
pub async fn publish(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let who = publisher(&st, &headers).await?;
    let value = read_body(&st, body).await?;
    let header_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let req = prepare(&st, &who, value, "", header_key.as_deref()).await?;
    let committed = commit(&st, req.clone()).await?;
    Ok(Json(published(&committed, &req)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn {
    events: Vec<Value>,
}

/// Publishes up to [`MAX_BATCH`] events; each is answered on its own (its
/// request id, or its error with a status), in the order given. The call
/// itself is 200 unless it could not be read at all.
#[utoipa::path(post, path = "/publish/batch", tag = "publish",
    request_body(content = Object, description = "`{\"events\": [event, …]}`, 1 to 1000 events shaped as for /publish"),
    responses((status = 200, description = "`{\"results\": [{\"request_id\", \"duplicate\", …} or {\"error\": {\"status\", \"code\", \"message\"}}], \"failed_count\"}`, in the order given")))]
pub async fn publish_batch(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let who = publisher(&st, &headers).await?;
    let value = read_body(&st, body).await?;
    let batch: BatchIn = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::Unprocessable(format!("invalid field `{path}`: {}", e.into_inner()))
    })?;
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(ApiError::Unprocessable(format!(
            "invalid field `events`: give 1 to {MAX_BATCH} events (got {})",
            batch.events.len()
        )));
    }
    let mut prepared = Vec::with_capacity(batch.events.len());
    for (i, v) in batch.events.into_iter().enumerate() {
        prepared.push(prepare(&st, &who, v, &format!("events[{i}]."), None).await);
    }
    // Committed together: the committer takes them as one group.
    let results = futures::future::join_all(prepared.into_iter().map(|p| {
        let st = &st;
        async move {
            match p {
                Ok(req) => match commit(st, req.clone()).await {
                    Ok(c) => published(&c, &req),
                    Err(e) => item_error(&e),
                },
                Err(e) => item_error(&e),
            }
        }
    }))
    .await;
    let failed = results.iter().filter(|r| r.get("error").is_some()).count();
    Ok(Json(json!({ "results": results, "failed_count": failed })))
}

fn item_error(e: &ApiError) -> Value {
    json!({ "error": { "status": e.status().as_u16(), "code": e.code(), "message": e.to_string() } })
}
