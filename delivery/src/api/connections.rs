//! `/connections`: source → rules → destination.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::destinations::DestinationIn;
use super::sources::SourceIn;
use super::views::{self, ConnectionOut};
use super::{parse_flag, validate, JsonBody, ListQuery, PageParams, Paginated, QueryParams};
use crate::clock::{new_id, now_ms};
use crate::error::ApiError;
use crate::model::{Connection, Destination, Rule, Source};
use crate::route::rules::CompiledRules;
use crate::state::AppState;
use crate::store::{ConnectionFilter, PageQuery};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionIn {
    /// Unique among the source's connections.
    pub name: Option<String>,
    pub description: Option<String>,
    pub source_id: Option<String>,
    pub destination_id: Option<String>,
    /// A source to use by name, created when it does not exist yet.
    pub source: Option<SourceIn>,
    /// A destination to use by name, created when it does not exist yet.
    pub destination: Option<DestinationIn>,
    /// `filter`, `retry`, `delay` (and `transform`) rules, as in Hookdeck.
    #[schema(value_type = Option<Vec<Object>>)]
    pub rules: Option<Vec<Rule>>,
    /// Hookyard's addition: topic patterns this connection takes (`orders.*`,
    /// `invoice.created`, `*`); absent or `null`: every request of the source.
    #[serde(default, deserialize_with = "super::double_option")]
    pub topics: Option<Option<Vec<String>>>,
}

/// Checks topic patterns; errors name the pattern (`topics[1]`).
fn check_topics(topics: Option<Vec<String>>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = topics else { return Ok(None) };
    if list.is_empty() {
        return Err(ApiError::Unprocessable(
            "invalid field `topics`: list at least one pattern, or give null to take every request"
                .into(),
        ));
    }
    if list.len() > 100 {
        return Err(ApiError::Unprocessable(
            "invalid field `topics`: at most 100 patterns".into(),
        ));
    }
    for (i, p) in list.iter().enumerate() {
        crate::model::check_topic_pattern(p)
            .map_err(|e| ApiError::Unprocessable(format!("invalid field `topics[{i}]`: {e}")))?;
    }
    Ok(Some(list))
}

/// Checks rules the way routing will use them; a bad filter is refused here, never
/// discovered when a webhook arrives.
/// A transform rule must name an existing transformation (an inline one is
/// stored and referenced by id).
async fn check_rules(st: &AppState, rules: Vec<Rule>) -> Result<Vec<Rule>, ApiError> {
    CompiledRules::compile(&rules).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    super::transformations::resolve_transform_rules(st, rules).await
}

/// An existing source by id, or the one named inline (created when new).
async fn resolve_source(
    st: &AppState,
    id: Option<String>,
    inline: Option<SourceIn>,
) -> Result<(Source, bool), ApiError> {
    match (id, inline) {
        (Some(_), Some(_)) => Err(ApiError::Unprocessable(
            "give either source_id or source, not both".into(),
        )),
        (Some(id), None) => st
            .store
            .get_source(&id)
            .await?
            .map(|s| (s, false))
            .ok_or_else(|| ApiError::Unprocessable(format!("source_id {id:?} does not exist"))),
        (None, Some(input)) => {
            let name = input
                .name
                .clone()
                .ok_or_else(|| ApiError::Unprocessable("source.name is required".into()))?;
            match st.store.find_source_by_name(&name).await? {
                Some(existing) => Ok((existing, false)),
                None => Ok((input.apply(None, "source")?, true)),
            }
        }
        (None, None) => Err(ApiError::Unprocessable(
            "source_id or source is required".into(),
        )),
    }
}

async fn resolve_destination(
    st: &AppState,
    id: Option<String>,
    inline: Option<DestinationIn>,
) -> Result<(Destination, bool), ApiError> {
    match (id, inline) {
        (Some(_), Some(_)) => Err(ApiError::Unprocessable(
            "give either destination_id or destination, not both".into(),
        )),
        (Some(id), None) => st
            .store
            .get_destination(&id)
            .await?
            .map(|d| (d, false))
            .ok_or_else(|| {
                ApiError::Unprocessable(format!("destination_id {id:?} does not exist"))
            }),
        (None, Some(input)) => {
            let name = input
                .name
                .clone()
                .ok_or_else(|| ApiError::Unprocessable("destination.name is required".into()))?;
            match st.store.find_destination_by_name(&name).await? {
                Some(existing) => Ok((existing, false)),
                None => Ok((input.apply(None, "destination")?, true)),
            }
        }
        (None, None) => Err(ApiError::Unprocessable(
            "destination_id or destination is required".into(),
        )),
    }
}

async fn render(st: &AppState, c: &Connection) -> Result<ConnectionOut, ApiError> {
    let s = super::sources::load(st, &c.source_id).await?;
    let d = super::destinations::load(st, &c.destination_id).await?;
    Ok(views::connection(c, &s, &d, &st.public_url))
}

async fn create_connection(st: &AppState, input: ConnectionIn) -> Result<ConnectionOut, ApiError> {
    if let Some(n) = &input.name {
        validate::name("name", n)?;
    }
    validate::description("description", &input.description)?;
    let rules = check_rules(st, input.rules.unwrap_or_default()).await?;
    let topics = check_topics(input.topics.flatten())?;
    let (source, new_source) = resolve_source(st, input.source_id, input.source).await?;
    let (destination, new_destination) =
        resolve_destination(st, input.destination_id, input.destination).await?;
    let now = now_ms();
    let c = Connection {
        id: new_id(IdKind::Connection),
        name: input.name,
        description: input.description,
        source_id: source.id.clone(),
        destination_id: destination.id.clone(),
        rules,
        topics,
        disabled_at: None,
        paused_at: None,
        created_at: now,
        updated_at: now,
    };
    st.catalog
        .insert_connection(
            &c,
            new_source.then_some(&source),
            new_destination.then_some(&destination),
        )
        .await?;
    Ok(views::connection(&c, &source, &destination, &st.public_url))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectionListParams {
    pub id: Option<String>,
    pub name: Option<String>,
    pub source_id: Option<String>,
    pub destination_id: Option<String>,
    pub disabled: Option<String>,
    pub paused: Option<String>,
}

impl ConnectionListParams {
    fn filter(self) -> Result<ConnectionFilter, ApiError> {
        Ok(ConnectionFilter {
            disabled: parse_flag("disabled", &self.disabled)?,
            paused: parse_flag("paused", &self.paused)?,
            id: self.id,
            name: self.name,
            source_id: self.source_id,
            destination_id: self.destination_id,
        })
    }
}

/// How many connections a list with the same filters holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionCount {
    pub count: i64,
}

#[utoipa::path(get, path = "/connections/count", tag = "connections", params(ConnectionListParams),
    responses((status = 200, body = ConnectionCount)))]
pub async fn count(
    State(st): State<Arc<AppState>>,
    QueryParams(p): QueryParams<ConnectionListParams>,
) -> Result<Json<ConnectionCount>, ApiError> {
    Ok(Json(ConnectionCount {
        count: st.store.count_connections(&p.filter()?).await?,
    }))
}

#[utoipa::path(get, path = "/connections", tag = "connections", params(ConnectionListParams, PageParams),
    responses((status = 200, description = "A page of connections")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    ListQuery(p, page): ListQuery<ConnectionListParams>,
) -> Result<Json<Paginated<ConnectionOut>>, ApiError> {
    let q: PageQuery = page.to_query()?;
    let page = st.store.list_connections(&p.filter()?, &q).await?;
    // Each source and destination is loaded once per page, however many
    // connections share it.
    let mut sources: HashMap<String, Source> = HashMap::new();
    let mut destinations: HashMap<String, Destination> = HashMap::new();
    for c in &page.models {
        if !sources.contains_key(&c.source_id) {
            let s = super::sources::load(&st, &c.source_id).await?;
            sources.insert(s.id.clone(), s);
        }
        if !destinations.contains_key(&c.destination_id) {
            let d = super::destinations::load(&st, &c.destination_id).await?;
            destinations.insert(d.id.clone(), d);
        }
    }
    Ok(Json(Paginated::from_page(page, &q, |c| {
        views::connection(
            &c,
            &sources[&c.source_id],
            &destinations[&c.destination_id],
            &st.public_url,
        )
    })))
}

#[utoipa::path(post, path = "/connections", tag = "connections", request_body = ConnectionIn,
    responses((status = 200, body = ConnectionOut), (status = 422, description = "invalid field, filter or rule")))]
pub async fn create(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<ConnectionIn>,
) -> Result<Json<ConnectionOut>, ApiError> {
    Ok(Json(create_connection(&st, input).await?))
}

#[utoipa::path(put, path = "/connections", tag = "connections", request_body = ConnectionIn,
    responses((status = 200, body = ConnectionOut)))]
/// Creates the connection, or updates the source's connection with this name.
pub async fn upsert(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<ConnectionIn>,
) -> Result<Json<ConnectionOut>, ApiError> {
    let Some(name) = input.name.clone() else {
        return Err(ApiError::Unprocessable(
            "name is required to upsert a connection".into(),
        ));
    };
    let source_id = match (&input.source_id, &input.source) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(s)) => match &s.name {
            Some(n) => st.store.find_source_by_name(n).await?.map(|s| s.id),
            None => None,
        },
        _ => None,
    };
    if let Some(source_id) = source_id {
        let f = ConnectionFilter {
            name: Some(name),
            source_id: Some(source_id),
            ..Default::default()
        };
        let existing = st
            .store
            .list_connections(
                &f,
                &PageQuery {
                    limit: 1,
                    ..Default::default()
                },
            )
            .await?
            .models
            .pop();
        if let Some(mut c) = existing {
            if let Some(rules) = input.rules {
                c.rules = check_rules(&st, rules).await?;
            }
            if let Some(topics) = input.topics {
                c.topics = check_topics(topics)?;
            }
            if input.description.is_some() {
                validate::description("description", &input.description)?;
                c.description = input.description;
            }
            c.updated_at = now_ms();
            st.catalog.update_connection(&c).await?;
            return Ok(Json(render(&st, &c).await?));
        }
    }
    Ok(Json(create_connection(&st, input).await?))
}

async fn load(st: &AppState, id: &str) -> Result<Connection, ApiError> {
    st.store
        .get_connection(id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection", id))
}

#[utoipa::path(get, path = "/connections/{id}", tag = "connections",
    responses((status = 200, body = ConnectionOut), (status = 404, description = "no such connection")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionOut>, ApiError> {
    let c = load(&st, &id).await?;
    Ok(Json(render(&st, &c).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub rules: Option<Vec<Rule>>,
    /// Topic patterns; `null`: every request.
    #[serde(default, deserialize_with = "super::double_option")]
    pub topics: Option<Option<Vec<String>>>,
}

#[utoipa::path(put, path = "/connections/{id}", tag = "connections", request_body = ConnectionUpdate,
    responses((status = 200, body = ConnectionOut)))]
pub async fn update(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ConnectionUpdate>,
) -> Result<Json<ConnectionOut>, ApiError> {
    let mut c = load(&st, &id).await?;
    if let Some(n) = input.name {
        validate::name("name", &n)?;
        c.name = Some(n);
    }
    if input.description.is_some() {
        validate::description("description", &input.description)?;
        c.description = input.description;
    }
    if let Some(rules) = input.rules {
        c.rules = check_rules(&st, rules).await?;
    }
    if let Some(topics) = input.topics {
        c.topics = check_topics(topics)?;
    }
    c.updated_at = now_ms();
    st.catalog.update_connection(&c).await?;
    Ok(Json(render(&st, &c).await?))
}

#[utoipa::path(delete, path = "/connections/{id}", tag = "connections",
    responses((status = 200, description = "`{\"id\"}` of the deleted connection")))]
pub async fn delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !st.catalog.delete_connection(&id).await? {
        return Err(ApiError::not_found("connection", &id));
    }
    Ok(Json(serde_json::json!({ "id": id })))
}

/// A change of a connection's paused or disabled state.
#[derive(Clone, Copy)]
enum Toggle {
    Pause,
    Unpause,
    Disable,
    Enable,
}

async fn toggle(st: &AppState, id: &str, t: Toggle) -> Result<Json<ConnectionOut>, ApiError> {
    let mut c = load(st, id).await?;
    let now = now_ms();
    match t {
        Toggle::Pause => c.paused_at = c.paused_at.or(Some(now)),
        Toggle::Unpause => c.paused_at = None,
        Toggle::Disable => c.disabled_at = c.disabled_at.or(Some(now)),
        Toggle::Enable => c.disabled_at = None,
    }
    c.updated_at = now;
    st.catalog.update_connection(&c).await?;
    Ok(Json(render(st, &c).await?))
}

#[utoipa::path(put, path = "/connections/{id}/pause", tag = "connections",
    responses((status = 200, body = ConnectionOut)))]
/// Holds the connection's events (new and pending) until it is unpaused.
pub async fn pause(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionOut>, ApiError> {
    toggle(&st, &id, Toggle::Pause).await
}

#[utoipa::path(put, path = "/connections/{id}/unpause", tag = "connections",
    responses((status = 200, body = ConnectionOut)))]
/// Delivers everything held, oldest first.
pub async fn unpause(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionOut>, ApiError> {
    toggle(&st, &id, Toggle::Unpause).await
}

#[utoipa::path(put, path = "/connections/{id}/disable", tag = "connections",
    responses((status = 200, body = ConnectionOut)))]
/// New requests are ignored for this connection (cause `DISABLED`).
pub async fn disable(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionOut>, ApiError> {
    toggle(&st, &id, Toggle::Disable).await
}

#[utoipa::path(put, path = "/connections/{id}/enable", tag = "connections",
    responses((status = 200, body = ConnectionOut)))]
pub async fn enable(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionOut>, ApiError> {
    toggle(&st, &id, Toggle::Enable).await
}

#[utoipa::path(put, path = "/connections/{id}/archive", tag = "connections",
    responses((status = 200, body = ConnectionOut)))]
/// Hookdeck's other name for disable (its SDK archives and unarchives).
pub async fn archive(
    st: State<Arc<AppState>>,
    id: Path<String>,
) -> Result<Json<ConnectionOut>, ApiError> {
    disable(st, id).await
}

#[utoipa::path(put, path = "/connections/{id}/unarchive", tag = "connections",
    responses((status = 200, body = ConnectionOut)))]
/// Hookdeck's other name for enable.
pub async fn unarchive(
    st: State<Arc<AppState>>,
    id: Path<String>,
) -> Result<Json<ConnectionOut>, ApiError> {
    enable(st, id).await
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/connections/{id}/pause", put(pause))
        .route("/connections/{id}/unpause", put(unpause))
        .route("/connections/{id}/disable", put(disable))
        .route("/connections/{id}/enable", put(enable))
        .route("/connections/{id}/archive", put(archive))
        .route("/connections/{id}/unarchive", put(unarchive))
        .route("/connections", get(list).post(create).put(upsert))
        .route("/connections/count", get(count))
        .route(
            "/connections/{id}",
            get(retrieve).put(update).delete(delete),
        )
        // A transform rule may carry its component inline.
        .layer(axum::extract::DefaultBodyLimit::max(
            super::transformations::MAX_BODY_BYTES,
        ))
}
