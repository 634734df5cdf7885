//! Every error a client can see, mapped to its HTTP status in one place. The body is
//! Hookdeck's error shape: `{"code", "status", "message"}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hookyard_core::ingest::Refusal;

use crate::ingest::body::BodyError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed input that says something we cannot do (a field's value).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("missing or invalid API key: send `Authorization: Bearer <key>`")]
    Unauthorized,
    /// Authenticated, but not allowed (a dashboard write without its CSRF token).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request could not be stored; the sender should retry.
    #[error("{0}")]
    Unavailable(String),
    /// No room to receive the request now; answered with `Retry-After`, and the
    /// connection closed (the rest of the body is still on it).
    #[error("{0}")]
    Busy(String),
    /// The client stopped sending its request; the connection is closed after
    /// the answer (what is left of the request would be read as the next one).
    #[error("{0}")]
    RequestTimeout(String),
    /// A status no other variant names (e.g. an edge batch's 401).
    #[error("{1}")]
    Custom(StatusCode, String),
    /// A webhook refused at admission (`hookyard_core::ingest`, shared with the
    /// edge Worker): its status, code and message are the refusal's own.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            // 422, not 409: Hookdeck's SDK retries 409s, which would repeat a create
            // that can only fail again.
            ApiError::Conflict(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Custom(s, _) => *s,
            // Only a disabled source's status is configurable, and the
            // configuration refuses one that is not an HTTP status.
            ApiError::Refused(r) => {
                StatusCode::from_u16(r.status()).unwrap_or(StatusCode::FORBIDDEN)
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::Unprocessable(_) => "UNPROCESSABLE_ENTITY",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Unauthorized => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::Unavailable(_) | ApiError::Busy(_) => "UNAVAILABLE",
            ApiError::RequestTimeout(_) => "REQUEST_TIMEOUT",
            ApiError::Custom(..) => "REJECTED",
            ApiError::Refused(r) => r.code(),
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        ApiError::NotFound(format!("{what} {id:?} not found"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            StoreError::MissingReference(what) => ApiError::Unprocessable(what),
            e @ StoreError::InvalidCursor(_) => ApiError::Unprocessable(e.to_string()),
            // Data we cannot read back is not something a retry fixes.
            StoreError::Corrupt(what) => {
                tracing::error!(error = %what, "stored data is corrupt");
                ApiError::Internal(format!("stored data is corrupt: {what}"))
            }
            other => {
                tracing::error!(error = %other, "storage error");
                ApiError::Unavailable(format!("storage is unavailable, try again: {other}"))
            }
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge(r) => ApiError::Refused(r),
            BodyError::TimedOut { .. } => ApiError::RequestTimeout(e.to_string()),
            BodyError::Busy => ApiError::Busy(e.to_string()),
            BodyError::ShuttingDown => ApiError::Unavailable(e.to_string()),
            BodyError::Broken(_) => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({
            "code": self.code(),
            "status": status.as_u16(),
            "message": self.to_string(),
        });
        let mut resp = (status, Json(body)).into_response();
        if matches!(self, ApiError::Busy(_)) {
            // The budget frees as commits finish, well within a second.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, ApiError::Busy(_) | ApiError::RequestTimeout(_)) {
            // Both stop reading a body part-way: the rest of it is still on the
            // connection, so it cannot carry another request.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}
