//! `/transformations`: user code (WebAssembly components) that rewrites requests
//! on a connection, its test console (`PUT /transformations/run`) and its
//! executions.
//!
//! Hookdeck's `code` field carries JavaScript; here it carries the component:
//! **`code` is the base64 (standard alphabet) of a `.wasm` component** built
//! with `transforms-sdk` (`cargo build --release --target wasm32-wasip2`).
//! Components are validated and precompiled on upload; a module that is not a
//! component of the `hookyard:transform/transformation` world, or that imports
//! anything beyond stdio/clock/random, is refused with a 422.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hookyard_core::id::IdKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::views::TEAM_ID;
use super::{validate, JsonBody, ListQuery, PageParams, Paginated};
use crate::clock::{new_id, now_ms, rfc3339};
use crate::error::ApiError;
use crate::model::HttpRequest;
use crate::model::Rule;
use crate::model::{Execution, ExecutionFilter, Transformation, TransformationFilter};
use crate::state::AppState;
use crate::store::TransformationDeletion;
use crate::transform::compiled::UploadError;
use crate::transform::{module_hash, TransformError};

/// A transformation to create, or the fields of one to change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformationIn {
    pub name: Option<String>,
    /// Base64 of the WebAssembly component (`.wasm`) built with transforms-sdk.
    pub code: Option<String>,
    /// Env map passed to every call.
    pub env: Option<BTreeMap<String, String>>,
    /// Hookyard's addition: memory cap of one call in bytes (default and maximum
    /// from `transformations.*` in the configuration).
    pub memory_limit_bytes: Option<i64>,
    /// Hookyard's addition: deadline of one call in milliseconds.
    pub timeout_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransformationOut {
    pub id: String,
    pub team_id: &'static str,
    pub name: String,
    /// Base64 of the component.
    pub code: Option<String>,
    /// `sha256:<hex>` of the component: the identity of the code that runs.
    pub module_hash: String,
    pub module_size: i64,
    pub env: BTreeMap<String, String>,
    pub memory_limit_bytes: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub updated_at: String,
    pub created_at: String,
}

fn out(t: &Transformation) -> TransformationOut {
    TransformationOut {
        id: t.id.clone(),
        team_id: TEAM_ID,
        name: t.name.clone(),
        code: t.module.as_ref().map(|m| STANDARD.encode(m)),
        module_hash: t.module_hash.clone(),
        module_size: t.module_size,
        env: t.env.clone(),
        memory_limit_bytes: t.memory_limit_bytes,
        timeout_ms: t.timeout_ms,
        updated_at: rfc3339(t.updated_at),
        created_at: rfc3339(t.created_at),
    }
}

fn upload_error(field: &str, e: UploadError) -> ApiError {
    match e {
        UploadError::Engine(m) => ApiError::Internal(m),
        other => ApiError::Unprocessable(format!("{field}: {other}")),
    }
}

/// Decodes and validates (precompiling, off the async threads) a module.
async fn check_module(st: &AppState, field: &str, code: &str) -> Result<Vec<u8>, ApiError> {
    let module = STANDARD.decode(code.trim()).map_err(|e| {
        ApiError::Unprocessable(format!(
            "{field} must be the base64 of a WebAssembly component: {e}"
        ))
    })?;
    let transforms = st.transforms.clone();
    let checked = module.clone();
    tokio::task::spawn_blocking(move || transforms.prepare(&checked).map(|_| ()))
        .await
        .map_err(|e| ApiError::Internal(format!("validation failed: {e}")))?
        .map_err(|e| upload_error(field, e))?;
    Ok(module)
}

impl TransformationIn {
    /// Applies these fields to `base` (a new transformation when `None`).
    pub async fn apply(
        self,
        st: &AppState,
        base: Option<Transformation>,
        field: &str,
    ) -> Result<Transformation, ApiError> {
        let now = now_ms();
        let f = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        let mut t = match base {
            Some(t) => t,
            None => Transformation {
                id: new_id(IdKind::Transformation),
                name: String::new(),
                module: None,
                module_hash: String::new(),
                module_size: 0,
                env: BTreeMap::new(),
                memory_limit_bytes: None,
                timeout_ms: None,
                created_at: now,
                updated_at: now,
            },
        };
        if let Some(name) = self.name {
            validate::name(&f("name"), &name)?;
            t.name = name;
        }
        if t.name.is_empty() {
            return Err(ApiError::Unprocessable(format!(
                "{} is required",
                f("name")
            )));
        }
        match self.code {
            Some(code) => {
                let module = check_module(st, &f("code"), &code).await?;
                t.module_hash = module_hash(&module);
                t.module_size = module.len() as i64;
                t.module = Some(module);
            }
            None if t.module.is_none() => {
                return Err(ApiError::Unprocessable(format!(
                    "{} is required: the base64 of a WebAssembly component",
                    f("code")
                )))
            }
            None => {}
        }
        if let Some(env) = self.env {
            t.env = env;
        }
        let cfg = st.transforms.config();
        if let Some(m) = self.memory_limit_bytes {
            let max = cfg.max_memory_limit_bytes as i64;
            if !(1024 * 1024..=max).contains(&m) {
                return Err(ApiError::Unprocessable(format!(
                    "{} must be between 1048576 and {max}",
                    f("memory_limit_bytes")
                )));
            }
            t.memory_limit_bytes = Some(m);
        }
        if let Some(ms) = self.timeout_ms {
            let max = cfg.max_timeout_ms as i64;
            if !(1..=max).contains(&ms) {
                return Err(ApiError::Unprocessable(format!(
                    "{} must be between 1 and {max}",
                    f("timeout_ms")
                )));
            }
            t.timeout_ms = Some(ms);
        }
        t.updated_at = now;
        Ok(t)
    }
}

async fn load(st: &AppState, id: &str) -> Result<Transformation, ApiError> {
    st.store
        .get_transformation(id, true)
        .await?
        .ok_or_else(|| ApiError::not_found("transformation", id))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransformationListParams {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[utoipa::path(get, path = "/transformations", tag = "transformations",
    params(TransformationListParams, PageParams),
    responses((status = 200, description = "A page of transformations (without `code`)")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    ListQuery(p, page): ListQuery<TransformationListParams>,
) -> Result<Json<Paginated<TransformationOut>>, ApiError> {
    let q = page.to_query()?;
    let f = TransformationFilter {
        id: p.id,
        name: p.name,
    };
    let page = st.store.list_transformations(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |t| out(&t))))
}

#[utoipa::path(post, path = "/transformations", tag = "transformations",
    request_body = TransformationIn,
    responses((status = 200, body = TransformationOut),
              (status = 422, description = "invalid field, name taken, or a module that is not an acceptable component")))]
pub async fn create(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<TransformationIn>,
) -> Result<Json<TransformationOut>, ApiError> {
    let t = input.apply(&st, None, "").await?;
    st.store.insert_transformation(&t).await?;
    Ok(Json(out(&t)))
}

/// Creates the transformation, or updates the one with this name.
pub async fn upsert_named(
    st: &AppState,
    input: TransformationIn,
    field: &str,
) -> Result<Transformation, ApiError> {
    let name = input
        .name
        .clone()
        .ok_or_else(|| ApiError::Unprocessable(format!("{field}name is required")))?;
    let existing = st.store.find_transformation_by_name(&name).await?;
    let existing = match existing {
        Some(t) => Some(load(st, &t.id).await?),
        None => None,
    };
    let is_new = existing.is_none();
    let t = input
        .apply(st, existing, field.trim_end_matches('.'))
        .await?;
    if is_new {
        st.store.insert_transformation(&t).await?;
    } else {
        st.store.update_transformation(&t).await?;
    }
    Ok(t)
}

#[utoipa::path(put, path = "/transformations", tag = "transformations",
    request_body = TransformationIn, responses((status = 200, body = TransformationOut)))]
pub async fn upsert(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<TransformationIn>,
) -> Result<Json<TransformationOut>, ApiError> {
    Ok(Json(out(&upsert_named(&st, input, "").await?)))
}

#[utoipa::path(get, path = "/transformations/{id}", tag = "transformations",
    responses((status = 200, body = TransformationOut), (status = 404, description = "no such transformation")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<TransformationOut>, ApiError> {
    Ok(Json(out(&load(&st, &id).await?)))
}

#[utoipa::path(delete, path = "/transformations/{id}", tag = "transformations",
    responses((status = 200, description = "`{id}` of the deleted transformation"),
              (status = 404, description = "no such transformation"),
              (status = 422, description = "connections' rules use it; the message names them")))]
/// Deletes a transformation no connection uses. One in use is refused, naming
/// the connections: removing it under them would fail their events.
pub async fn delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match st.store.delete_transformation(&id).await? {
        TransformationDeletion::Deleted => Ok(Json(serde_json::json!({ "id": id }))),
        TransformationDeletion::NotFound => Err(ApiError::not_found("transformation", &id)),
        TransformationDeletion::InUse(conns) => {
            let names: Vec<String> = conns
                .iter()
                .map(|c| format!("{} ({})", c.name.as_deref().unwrap_or("unnamed"), c.id))
                .collect();
            Err(ApiError::Conflict(format!(
                "transformation {id:?} is used by the rules of connection{} {}: \
                 remove it from their rules first",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            )))
        }
    }
}

#[utoipa::path(put, path = "/transformations/{id}", tag = "transformations",
    request_body = TransformationIn, responses((status = 200, body = TransformationOut)))]
pub async fn update(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<TransformationIn>,
) -> Result<Json<TransformationOut>, ApiError> {
    let t = input.apply(&st, Some(load(&st, &id).await?), "").await?;
    st.store.update_transformation(&t).await?;
    Ok(Json(out(&t)))
}

/// The request to run a transformation on, in Hookdeck's shape.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RunRequestIn {
    /// Header names to values (none when absent).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub headers: BTreeMap<String, String>,
    /// A JSON value (sent as its JSON text) or a string (sent as is).
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    pub path: Option<String>,
    pub query: Option<String>,
    /// Hookyard's addition (default POST).
    pub method: Option<String>,
}

/// `PUT /transformations/run`: the code (a stored transformation, or `code`
/// inline) and the request (inline `request`, or a stored `request_id`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunIn {
    pub transformation_id: Option<String>,
    /// Base64 of a component to run without storing it.
    pub code: Option<String>,
    /// Overrides the transformation's env.
    pub env: Option<BTreeMap<String, String>>,
    pub request: Option<RunRequestIn>,
    /// Hookyard's addition: run on this stored request.
    pub request_id: Option<String>,
    /// Hookdeck's connection id (ignored: a run has no connection context).
    pub webhook_id: Option<String>,
    pub event_id: Option<String>,
}

/// The request in an answer: body as text when it is UTF-8, else base64.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names to values (a repeated header's values joined with `, `), as
    /// Hookdeck shows headers.
    #[schema(value_type = Object)]
    pub headers: serde_json::Map<String, Value>,
    /// The body parsed as JSON when it is JSON, else as text.
    #[schema(value_type = Object)]
    pub body: Value,
    /// The body's exact bytes, base64.
    pub body_base64: String,
}

pub fn request_view(r: &HttpRequest) -> RequestView {
    let body = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into_owned()));
    RequestView {
        method: r.method.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        headers: crate::route::header_object(&r.headers),
        body: if r.body.is_empty() { Value::Null } else { body },
        body_base64: STANDARD.encode(&r.body),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleLine {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunOut {
    pub transformation_id: Option<String>,
    pub module_hash: String,
    /// The transformed request (absent when the run failed).
    pub request: Option<RequestView>,
    /// The request given to the transformation.
    pub input: RequestView,
    /// Why the run failed.
    pub error: Option<String>,
    pub log_level: &'static str,
    pub logs: Vec<ConsoleLine>,
    pub duration_ms: f64,
    pub execution_id: Option<String>,
}

pub(crate) fn input_request(r: RunRequestIn) -> HttpRequest {
    let body = match r.body {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.into_bytes(),
        Some(v) => v.to_string().into_bytes(),
    };
    HttpRequest {
        method: r
            .method
            .unwrap_or_else(|| "POST".into())
            .to_ascii_uppercase(),
        path: r.path.unwrap_or_else(|| "/".into()),
        query: r
            .query
            .unwrap_or_default()
            .trim_start_matches('?')
            .to_owned(),
        headers: r
            .headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        body,
    }
}

fn logs_out(logs: Vec<String>) -> Vec<ConsoleLine> {
    logs.into_iter()
        .map(|message| ConsoleLine {
            kind: "log",
            message,
        })
        .collect()
}

#[utoipa::path(put, path = "/transformations/run", tag = "transformations",
    request_body = RunIn,
    responses((status = 200, body = RunOut, description = "The output (or error), logs and duration; a failed run is still a 200"),
              (status = 422, description = "no code, no request, or an unacceptable module")))]
pub async fn run(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<RunIn>,
) -> Result<Json<RunOut>, ApiError> {
    let stored = match &input.transformation_id {
        Some(id) => Some(load(&st, id).await?),
        None => None,
    };
    let module = match (&input.code, &stored) {
        (Some(code), _) => check_module(&st, "code", code).await?,
        (None, Some(t)) => t.module.clone().unwrap_or_default(),
        (None, None) => {
            return Err(ApiError::Unprocessable(
                "give transformation_id or code (base64 of a component)".into(),
            ))
        }
    };
    let req = match (input.request, &input.request_id) {
        (Some(r), _) => input_request(r),
        (None, Some(id)) => {
            let r = st
                .store
                .get_request(id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("request", id))?;
            HttpRequest {
                method: r.method,
                path: r.path,
                query: r.query,
                headers: r.headers,
                body: r.body.unwrap_or_default(),
            }
        }
        (None, None) => {
            return Err(ApiError::Unprocessable(
                "give request (headers, body, path, query) or request_id".into(),
            ))
        }
    };
    let env: Vec<(String, String)> = input
        .env
        .or_else(|| stored.as_ref().map(|t| t.env.clone()))
        .unwrap_or_default()
        .into_iter()
        .collect();
    let limits = st.transforms.limits(
        stored.as_ref().and_then(|t| t.memory_limit_bytes),
        stored.as_ref().and_then(|t| t.timeout_ms),
    );
    let hash = module_hash(&module);
    let transforms = st.transforms.clone();
    let given = req.clone();
    let outcome =
        tokio::task::spawn_blocking(move || transforms.run_module(&module, given, &env, &limits))
            .await
            .map_err(|e| ApiError::Internal(format!("the run failed: {e}")))?;
    let error = outcome.result.as_ref().err().map(TransformError::to_string);
    // Runs of stored transformations are kept, so the console's history is the
    // executions list.
    let execution_id = match &stored {
        Some(t) => {
            let e = Execution {
                id: new_id(IdKind::TransformationExecution),
                transformation_id: t.id.clone(),
                module_hash: hash.clone(),
                request_id: input.request_id.clone(),
                event_id: None,
                connection_id: None,
                ok: error.is_none(),
                error: error.clone(),
                logs: outcome.logs.clone(),
                duration_us: outcome.duration.as_micros() as i64,
                created_at: now_ms(),
            };
            st.store.insert_execution(&e).await?;
            Some(e.id)
        }
        None => None,
    };
    Ok(Json(RunOut {
        transformation_id: stored.map(|t| t.id),
        module_hash: hash,
        request: outcome.result.as_ref().ok().map(request_view),
        input: request_view(&req),
        log_level: if error.is_some() { "error" } else { "info" },
        error,
        logs: logs_out(outcome.logs),
        duration_ms: outcome.duration.as_secs_f64() * 1000.0,
        execution_id,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionOut {
    pub id: String,
    pub team_id: &'static str,
    pub transformation_id: String,
    pub module_hash: String,
    /// The connection the execution ran for (Hookdeck's name).
    pub webhook_id: Option<String>,
    pub request_id: Option<String>,
    pub event_id: Option<String>,
    /// Hookdeck's names: the data it was given (the request's id; empty for a
    /// run on a pasted request) and the data it made (the event's; empty when
    /// it made none).
    pub original_event_data_id: String,
    pub transformed_event_data_id: String,
    pub log_level: &'static str,
    pub logs: Vec<ConsoleLine>,
    /// Why the execution failed (its event is FAILED, `TRANSFORMATION_FAILED`).
    pub error: Option<String>,
    pub duration_ms: f64,
    pub created_at: String,
    pub updated_at: String,
}

fn execution_out(e: Execution) -> ExecutionOut {
    ExecutionOut {
        id: e.id,
        team_id: TEAM_ID,
        transformation_id: e.transformation_id,
        module_hash: e.module_hash,
        webhook_id: e.connection_id,
        original_event_data_id: e.request_id.clone().unwrap_or_default(),
        transformed_event_data_id: e.event_id.clone().unwrap_or_default(),
        request_id: e.request_id,
        event_id: e.event_id,
        log_level: if e.ok { "info" } else { "error" },
        logs: logs_out(e.logs),
        error: e.error,
        duration_ms: e.duration_us as f64 / 1000.0,
        created_at: rfc3339(e.created_at),
        updated_at: rfc3339(e.created_at),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionListParams {
    /// `error`: only failed executions; `info`: only successful ones.
    pub log_level: Option<String>,
    pub webhook_id: Option<String>,
    pub request_id: Option<String>,
    pub event_id: Option<String>,
}

#[utoipa::path(get, path = "/transformations/{id}/executions", tag = "transformations",
    params(ExecutionListParams, PageParams),
    responses((status = 200, description = "A page of executions")))]
pub async fn executions(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    ListQuery(p, page): ListQuery<ExecutionListParams>,
) -> Result<Json<Paginated<ExecutionOut>>, ApiError> {
    let q = page.to_query()?;
    st.store
        .get_transformation(&id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("transformation", &id))?;
    let ok = match p.log_level.as_deref() {
        None => None,
        Some("error") | Some("fatal") => Some(false),
        Some("info") | Some("debug") | Some("warn") => Some(true),
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "log_level must be one of debug, info, warn, error, fatal, not {other:?}"
            )))
        }
    };
    let f = ExecutionFilter {
        transformation_id: Some(id),
        request_id: p.request_id,
        event_id: p.event_id,
        connection_id: p.webhook_id,
        ok,
    };
    let page = st.store.list_executions(&f, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, execution_out)))
}

#[utoipa::path(get, path = "/transformations/{id}/executions/{execution_id}", tag = "transformations",
    responses((status = 200, body = ExecutionOut), (status = 404, description = "no such execution")))]
pub async fn execution(
    State(st): State<Arc<AppState>>,
    Path((id, execution_id)): Path<(String, String)>,
) -> Result<Json<ExecutionOut>, ApiError> {
    match st.store.get_execution(&execution_id).await? {
        Some(e) if e.transformation_id == id => Ok(Json(execution_out(e))),
        _ => Err(ApiError::not_found("execution", &execution_id)),
    }
}

/// Checks a connection's transform rule and turns an inline
/// `transformation: {name, code, env}` into a stored transformation (created, or
/// updated by name) referenced by `transformation_id`.
pub async fn resolve_transform_rules(
    st: &AppState,
    rules: Vec<Rule>,
) -> Result<Vec<Rule>, ApiError> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, rule) in rules.into_iter().enumerate() {
        let Rule::Transform {
            transformation_id,
            transformation,
        } = rule
        else {
            out.push(rule);
            continue;
        };
        let id = match (transformation_id, transformation) {
            (Some(id), None) => {
                st.store
                    .get_transformation(&id, false)
                    .await?
                    .ok_or_else(|| {
                        ApiError::Unprocessable(format!(
                            "rules[{i}].transformation_id: no transformation {id:?}"
                        ))
                    })?
                    .id
            }
            (None, Some(inline)) => {
                let input: TransformationIn = serde_json::from_value(inline).map_err(|e| {
                    ApiError::Unprocessable(format!("rules[{i}].transformation: {e}"))
                })?;
                upsert_named(st, input, &format!("rules[{i}].transformation."))
                    .await?
                    .id
            }
            _ => {
                return Err(ApiError::Unprocessable(format!(
                "rules[{i}]: a transform rule needs transformation_id or transformation (not both)"
            )))
            }
        };
        out.push(Rule::Transform {
            transformation_id: Some(id),
            transformation: None,
        });
    }
    Ok(out)
}

/// Largest API body on these routes: a component, base64, is a few MiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/transformations", get(list).post(create).put(upsert))
        .route("/transformations/run", put(run))
        .route(
            "/transformations/{id}",
            get(retrieve).put(update).delete(delete),
        )
        .route("/transformations/{id}/executions", get(executions))
        .route(
            "/transformations/{id}/executions/{execution_id}",
            get(execution),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}
