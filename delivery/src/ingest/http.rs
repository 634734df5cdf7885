//! `ANY /e/{source}[/{path}]`: where providers send webhooks.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hookyard_core::envelope::Envelope;
use hookyard_core::id::IdKind;
use hookyard_core::verify::{SignedRequest, Verification};

use crate::clock::{new_id, now_ms};
use crate::error::ApiError;
use crate::ingest::committer::CommitError;
use crate::model::{NewRequest, RejectionCause, Source};
use crate::state::AppState;

/// The source name and the path after it, read from the raw URI: axum's `Path`
/// would percent-decode (and refuse bytes that are not UTF-8), and the path must
/// reach the destination exactly as the provider sent it. Source names are plain
/// ASCII, so they need no decoding.
fn split_ingest_path(uri: &Uri) -> Result<(&str, String), ApiError> {
    let after = uri.path().strip_prefix("/e/").unwrap_or("");
    let source = after.split('/').next().unwrap_or("");
    Ok((source, forwarded_path(uri, source)?))
}

/// The path after `/e/{source}`, as the provider sent it (still percent-encoded,
/// so it is forwarded unchanged), always starting with `/`. Dot segments are
/// refused: appended to a destination URL they would climb out of its path.
fn forwarded_path(uri: &Uri, source: &str) -> Result<String, ApiError> {
    let raw = uri.path();
    let rest = raw
        .strip_prefix("/e/")
        .and_then(|r| r.strip_prefix(source))
        .unwrap_or("");
    let dot_segment = rest.split('/').any(|seg| {
        let decoded = seg.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    });
    if dot_segment {
        return Err(ApiError::BadRequest(
            "the path after /e/<source> must not contain `.` or `..` segments".into(),
        ));
    }
    Ok(if rest.is_empty() {
        "/".to_owned()
    } else {
        rest.to_owned()
    })
}

/// Header names and values as stored: lowercase names, values as text (a byte that
/// is not UTF-8 is replaced rather than refusing the webhook).
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub async fn ingest(
    State(st): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (source_name, path) = split_ingest_path(&uri)?;
    let source = st
        .catalog
        .source_by_name(source_name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no source named {source_name:?}")))?;

    let limit = source
        .max_body_bytes
        .map(|l| l.max(0) as usize)
        .unwrap_or(st.config.ingest.max_body_bytes);
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "body is larger than this source's limit of {limit} bytes"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Room for this body until it is committed (held to the end of the handler).
    let total = st.ingest_budget_kib;
    let kib = (declared.unwrap_or(limit).div_ceil(1024)).clamp(1, total) as u32;
    let _room = st
        .ingest_budget
        .acquire_many(kib)
        .await
        .map_err(|_| ApiError::Unavailable("the gateway is shutting down; retry".into()))?;
    let body = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;

    let rejection = if source.disabled_at.is_some() {
        Some(RejectionCause::SourceDisabled)
    } else if !source.allows_method(method.as_str()) {
        Some(RejectionCause::UnsupportedHttpMethod)
    } else {
        None
    };

    let headers = header_pairs(&headers);
    if rejection.is_none() {
        verify(&st, &source, &uri, &headers, &body)?;
    }

    let envelope = Envelope {
        id: new_id(IdKind::Request),
        source: source.name.clone(),
        received_at_ms: now_ms(),
        method: method.as_str().to_owned(),
        path,
        query: uri.query().unwrap_or("").to_owned(),
        headers,
        body: body.to_vec(),
    };
    let request_id = envelope.id.clone();
    st.committer
        .commit(NewRequest {
            envelope,
            source_id: source.id.clone(),
            verified: None,
            rejection_cause: rejection,
            route: None,
        })
        .await
        .map_err(|e| match e {
            CommitError::Store(e) => {
                ApiError::Unavailable(format!("the request could not be stored ({e}); retry"))
            }
            CommitError::Closed => {
                ApiError::Unavailable("the gateway is shutting down; retry".into())
            }
        })?;

    // Rejected requests are kept (the operator sees them) but the provider is told.
    match rejection {
        Some(RejectionCause::SourceDisabled) => Err(ApiError::Custom(
            StatusCode::from_u16(st.config.ingest.disabled_source_status)
                .unwrap_or(StatusCode::FORBIDDEN),
            format!("source {:?} is disabled", source.name),
        )),
        Some(_) => Err(ApiError::MethodNotAllowed(format!(
            "source {:?} does not accept {method} requests",
            source.name
        ))),
        None => Ok(accepted(&source, &request_id)),
    }
}

/// The source's signature check (`hookyard_core::verify`, the code the edge Worker
/// runs). A request that fails it is answered 401 and not stored, as at the edge.
fn verify(
    st: &AppState,
    source: &Source,
    uri: &Uri,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(value) = &source.verification else {
        return Ok(());
    };
    // Validated when the source was written; a stored one that is not valid is ours.
    let verification = Verification::from_json(value).map_err(|e| {
        ApiError::Internal(format!(
            "source {:?} has an invalid verification: {e}",
            source.name
        ))
    })?;
    // Twilio signs the URL it called: this gateway's public URL plus the path.
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path_and_query}", st.public_url.trim_end_matches('/'));
    verification
        .verify(&SignedRequest {
            url: &url,
            headers,
            body,
            now_secs: now_ms() / 1000,
        })
        .map_err(|e| {
            ApiError::Custom(
                StatusCode::UNAUTHORIZED,
                format!("verification failed: {e}"),
            )
        })
}

fn accepted(source: &Source, request_id: &str) -> Response {
    let id_header = HeaderValue::from_str(request_id).ok();
    let mut resp = match &source.custom_response {
        Some(custom) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, custom.content_type.mime())],
            custom.body.clone(),
        )
            .into_response(),
        None => (
            StatusCode::OK,
            axum::Json(serde_json::json!({
                "status": "SUCCESS",
                "message": "Request stored by Hookyard",
                "request_id": request_id,
            })),
        )
            .into_response(),
    };
    if let Some(v) = id_header {
        resp.headers_mut().insert("x-hookyard-request-id", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(uri: &str) -> Result<String, ApiError> {
        forwarded_path(&uri.parse().unwrap(), "shop")
    }

    #[test]
    fn the_forwarded_path_stays_as_sent() {
        assert_eq!(path("/e/shop").unwrap(), "/");
        assert_eq!(path("/e/shop/").unwrap(), "/");
        assert_eq!(
            path("/e/shop/orders/a%2Fb%25?x=1").unwrap(),
            "/orders/a%2Fb%25"
        );
        assert_eq!(path("/e/shop/%FF").unwrap(), "/%FF");
        for bad in [
            "/e/shop/../admin",
            "/e/shop/a/%2E%2E/b",
            "/e/shop/./x",
            "/e/shop/%2e",
        ] {
            assert!(path(bad).is_err(), "{bad}");
        }
        assert_eq!(path("/e/shop/..hidden").unwrap(), "/..hidden");
    }
}
