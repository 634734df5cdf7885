//! `/dashboard/session`: sign in with the API key (answered with the session
//! cookie and its CSRF token), ask who is signed in, sign out.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::api::{is_api_key, require_csrf, session_of, JsonBody, SESSION_COOKIE};
use crate::clock::{now_ms, rfc3339};
use crate::error::ApiError;
use crate::sessions::{Session, SESSION_TTL};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    api_key: String,
}

#[derive(Serialize)]
pub struct SessionOut {
    signed_in: bool,
    /// Send it as `X-CSRF-Token` with every write.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

fn out(st: &AppState, s: &Session) -> SessionOut {
    SessionOut {
        signed_in: true,
        csrf_token: Some(st.sessions.csrf_token(s)),
        expires_at: Some(rfc3339(s.expires_at_ms)),
    }
}

/// Session answers carry a token: no cache may keep them.
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// `HttpOnly` keeps the token from scripts; `SameSite=Strict` keeps other sites'
/// pages from sending it; `Secure` when the gateway is served over HTTPS.
fn cookie(st: &AppState, value: &str, max_age_s: u64) -> Result<HeaderValue, ApiError> {
    let secure = if st.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .map_err(|e| ApiError::Internal(format!("session cookie: {e}")))
}

pub async fn sign_in(
    State(st): State<Arc<AppState>>,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    if !is_api_key(&st, body.api_key.trim()) {
        return Err(ApiError::Unauthorized);
    }
    let (token, session) = st.sessions.issue(now_ms());
    let cookie = cookie(&st, &token, SESSION_TTL.as_secs())?;
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, NO_STORE),
        ],
        Json(out(&st, &session)),
    )
        .into_response())
}

/// Whether the cookie is a live session (200 either way: the page asks on every
/// load, and not being signed in is not an error).
pub async fn current(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let answer = match session_of(&st, &headers) {
        Some(session) => out(&st, &session),
        None => SessionOut {
            signed_in: false,
            csrf_token: None,
            expires_at: None,
        },
    };
    Ok(([(header::CACHE_CONTROL, NO_STORE)], Json(answer)).into_response())
}

/// Ends the session (with its CSRF token: another site must not sign a user
/// out) and clears the cookie.
pub async fn sign_out(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(session) = session_of(&st, &headers) {
        require_csrf(&st, &session, &headers)?;
        st.sessions.revoke(&session);
    }
    let mut resp = axum::http::StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, cookie(&st, "", 0)?);
    Ok(resp)
}
