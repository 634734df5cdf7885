//! `/cli/listen`: the WebSocket a `hookyard listen` holds open, and
//! `/cli/sessions`, the CLIs connected to this process.
//!
//! The CLI sets up its destination and connections with the ordinary API first;
//! the handshake only checks that they fit together, so every mistake is an API
//! error with a status, before the socket opens.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::{new_id, now_ms};
use crate::destinations::cli::listeners::Session;
use crate::destinations::cli::protocol::Control;
use crate::destinations::cli::socket;
use crate::error::ApiError;
use crate::model::DestinationKind;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListenParams {
    /// The CLI destination to listen for.
    pub destination_id: String,
    /// Its connections to take events of, comma-separated.
    pub connection_ids: String,
    /// What the CLI is (`user@host`), shown in `/cli/sessions`.
    pub client: Option<String>,
}

#[utoipa::path(get, path = "/cli/listen", tag = "cli", params(ListenParams),
    responses((status = 101, description = "The WebSocket of a `hookyard listen` session"),
        (status = 422, description = "not a CLI destination, or a connection that is not its")))]
/// Hookyard's addition: the WebSocket of `hookyard listen`. Events of the named
/// connections go over it while it is open, and wait in the store while no CLI
/// listens for them.
pub async fn listen(
    State(st): State<Arc<AppState>>,
    Query(p): Query<ListenParams>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let destination = st
        .store
        .get_destination(&p.destination_id)
        .await?
        .ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "destination_id {:?} does not exist",
                p.destination_id
            ))
        })?;
    if destination.kind != DestinationKind::Cli {
        return Err(ApiError::Unprocessable(format!(
            "destination {:?} is a {} destination; hookyard listen needs a CLI destination",
            destination.name,
            destination.kind.type_name()
        )));
    }
    if destination.disabled_at.is_some() {
        return Err(ApiError::Unprocessable(format!(
            "destination {:?} is disabled; enable it to receive its events",
            destination.name
        )));
    }
    let mut connections: Vec<String> = Vec::new();
    for id in p
        .connection_ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let c = st.store.get_connection(id).await?.ok_or_else(|| {
            ApiError::Unprocessable(format!("connection_ids: {id:?} does not exist"))
        })?;
        if c.destination_id != destination.id {
            return Err(ApiError::Unprocessable(format!(
                "connection_ids: {id:?} goes to another destination, not {:?}",
                destination.name
            )));
        }
        if !connections.contains(&c.id) {
            connections.push(c.id);
        }
    }
    if connections.is_empty() || connections.len() > 100 {
        return Err(ApiError::Unprocessable(
            "connection_ids must name 1 to 100 connections of the destination".into(),
        ));
    }
    let client: String = p
        .client
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let (session, outbox) = Session::new(
        new_id(IdKind::CliSession),
        destination.id.clone(),
        connections,
        client,
        now_ms(),
    );
    let welcome = Control::Welcome {
        session_id: session.id.clone(),
        destination_id: destination.id,
        destination_name: destination.name,
        heartbeat_ms: st.config.delivery.cli_heartbeat_ms,
    };
    let listeners = st.adapters.cli.listeners.clone();
    let catalog = st.catalog.clone();
    let heartbeat = std::time::Duration::from_millis(st.config.delivery.cli_heartbeat_ms);
    // An answer holds at most the response body we keep, plus its frame.
    let max = st.config.delivery.response_body_limit + 256 * 1024;
    Ok(upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |ws| {
            socket::run(ws, session, outbox, listeners, catalog, welcome, heartbeat)
        }))
}

/// A connected `hookyard listen`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub id: String,
    pub destination_id: String,
    pub connection_ids: Vec<String>,
    pub client: String,
    pub connected_at: String,
    /// Deliveries sent and not answered yet.
    pub in_flight: usize,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionParams {
    pub destination_id: Option<String>,
}

#[utoipa::path(get, path = "/cli/sessions", tag = "cli", params(SessionParams),
    responses((status = 200, body = [SessionOut])))]
/// Hookyard's addition: the `hookyard listen` sessions connected to this
/// process (with several replicas, each lists its own).
pub async fn sessions(
    State(st): State<Arc<AppState>>,
    Query(p): Query<SessionParams>,
) -> Json<Vec<SessionOut>> {
    let all = st.adapters.cli.listeners.all();
    Json(
        all.into_iter()
            .filter(|s| {
                p.destination_id
                    .as_ref()
                    .is_none_or(|d| *d == s.destination_id)
            })
            .map(|s| SessionOut {
                id: s.id.clone(),
                destination_id: s.destination_id.clone(),
                connection_ids: s.connections.clone(),
                client: s.client.clone(),
                connected_at: crate::clock::rfc3339(s.connected_at),
                in_flight: s.in_flight(),
            })
            .collect(),
    )
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/cli/listen", get(listen))
        .route("/cli/sessions", get(sessions))
}
