//! One `hookyard listen` session's WebSocket, on the gateway's side: writes the
//! deliveries, reads the answers, pings every `delivery.cli_heartbeat_ms`, and
//! unregisters the session when the socket closes or is silent for three pings.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::listeners::{Listeners, Outgoing, Reply, Session};
use super::protocol::{self, Control, ReplyFrame};
use crate::catalog::Catalog;

/// Serves one session until its socket closes, then removes it (what it had in
/// flight goes back to the store, unattempted).
pub async fn run(
    ws: WebSocket,
    session: Arc<Session>,
    mut outbox: mpsc::Receiver<Outgoing>,
    listeners: Arc<Listeners>,
    catalog: Arc<Catalog>,
    welcome: Control,
    heartbeat: Duration,
) {
    let (mut tx, mut rx) = ws.split();
    let hello = serde_json::to_string(&welcome).unwrap_or_default();
    if tx.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    listeners.add(session.clone());
    tracing::info!(session = %session.id, destination = %session.destination_id,
        client = %session.client, "hookyard listen connected");
    let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    let mut heard = Instant::now();
    let mut state = Watched::default();
    let why = loop {
        tokio::select! {
            out = outbox.recv() => {
                let Some(bytes) = out else { break "closed by the gateway" };
                if tx.send(Message::Binary(Bytes::from(bytes))).await.is_err() {
                    break "the socket failed while sending";
                }
            }
            msg = rx.next() => {
                heard = Instant::now();
                match msg {
                    Some(Ok(Message::Binary(b))) => match protocol::decode::<ReplyFrame>(&b) {
                        Ok((frame, body)) => session.answer(Reply {
                            frame,
                            body: b.slice(b.len() - body.len()..),
                        }),
                        Err(e) => tracing::warn!(session = %session.id, error = %e,
                            "hookyard listen sent an answer that is not valid; ignored"),
                    },
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(Control::Drain) = serde_json::from_str::<Control>(&t) {
                            session.drain();
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => break "closed by the CLI",
                    Some(Ok(_)) => {}
                    Some(Err(_)) => break "the connection broke",
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() > heartbeat * 3 {
                    break "no answer to heartbeats";
                }
                if tx.send(Message::Ping(Bytes::new())).await.is_err() {
                    break "the socket failed while pinging";
                }
                if let Some(message) = state.changed(&catalog, &session.destination_id).await {
                    let notice = serde_json::to_string(&Control::Notice { message }).unwrap_or_default();
                    if tx.send(Message::Text(notice.into())).await.is_err() {
                        break "the socket failed while sending a notice";
                    }
                }
            }
        }
    };
    listeners.remove(&session);
    let _ = tx.close().await;
    tracing::info!(session = %session.id, reason = why, "hookyard listen disconnected");
}

/// What the CLI was last told about its destination: a destination disabled
/// while a CLI listens (auto-disabled after failures, or by someone) holds its
/// events, and the CLI would otherwise just go quiet.
#[derive(Default)]
struct Watched {
    told_disabled: bool,
}

impl Watched {
    /// A notice when the destination was disabled, deleted or enabled since last
    /// told (from the catalog's cache: no query per ping).
    async fn changed(&mut self, catalog: &Catalog, destination_id: &str) -> Option<String> {
        let d = catalog.destination(destination_id).await.ok()?;
        let disabled = d.as_ref().is_none_or(|d| d.disabled_at.is_some());
        if disabled == self.told_disabled {
            return None;
        }
        self.told_disabled = disabled;
        Some(match d {
            None => "the CLI destination was deleted: no events come any more; restart \
                     hookyard listen to set it up again"
                .to_owned(),
            Some(d) if disabled => format!(
                "destination {} was disabled ({}); its events are held, not delivered, \
                 until it is enabled: restart hookyard listen, or PUT /destinations/{}/enable",
                d.name,
                d.disabled_reason.as_deref().unwrap_or("by a user"),
                d.id
            ),
            Some(d) => format!(
                "destination {} is enabled again; held events follow",
                d.name
            ),
        })
    }
}
