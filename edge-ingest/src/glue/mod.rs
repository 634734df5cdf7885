//! The Workers runtime side: the fetch handler (ingest), the queue consumer (push
//! to delivery, for the ingest queue and its dead-letter queue) and the scheduled
//! handler (push parked webhooks again).
//!
//! Bindings and variables (see `wrangler.toml`): queue `INGEST`, R2 bucket
//! `BODIES` (large bodies, parked webhooks, the last configuration), `DELIVERY_URL`,
//! secret `BATCH_SECRET`, and optional `CONFIG_REFRESH_SECONDS`,
//! `RETRY_MIN_SECONDS`, `RETRY_MAX_SECONDS`, `ALERT_WEBHOOK_URL`,
//! `PARKING_ALERT_INTERVAL_SECONDS`, `PARKED_PER_RUN`, and the optional secret
//! `HOOKYARD_SOURCES` (a pinned configuration from `hookyard edge config`).
//!
//! - [`config`]: where the source configuration comes from.
//! - [`delivery`]: the signed calls to delivery.
//! - [`ingest`]: the fetch handler.
//! - [`consumer`]: the queue consumer.
//! - [`parked`]: parking what the dead-letter queue cannot hand over, and pushing it again.

mod config;
mod consumer;
mod delivery;
mod handover;
mod ingest;
mod parked;

use worker::{Env, Headers, Response, Result};

fn var_u32(env: &Env, name: &str, default: u32) -> u32 {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(default)
}

fn json_response(status: u16, body: String) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

fn unavailable(what: &str) -> Result<Response> {
    worker::console_error!("{what}");
    json_response(
        503,
        serde_json::json!({"code": "UNAVAILABLE", "status": 503,
            "message": format!("{what}; retry")})
        .to_string(),
    )
}
