//! `GET /metrics`: Prometheus text format (see `telemetry` for each metric).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

pub async fn render(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let handle = st.metrics.as_ref().ok_or_else(|| {
        ApiError::Unavailable("metrics are off: another metrics recorder is installed".into())
    })?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}
