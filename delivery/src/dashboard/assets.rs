//! The dashboard's files (`delivery/dashboard/`), embedded at build time; a debug
//! build reads them from disk, so editing one and reloading the page shows it.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "dashboard/"]
pub struct Assets;

pub async fn index(headers: HeaderMap) -> Result<Response, ApiError> {
    serve("index.html", &headers)
}

pub async fn file(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    if path == "index.html" {
        return Err(ApiError::NotFound(format!("no dashboard file {path:?}")));
    }
    serve(&path, &headers)
}

/// One file, with a strong ETag (its SHA-256) so a reload revalidates cheaply:
/// `no-cache` rather than a long max-age, because file names carry no version.
fn serve(path: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let file = Assets::get(path)
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard file {path:?}")))?;
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = match file.metadata.mimetype() {
            m @ ("text/html" | "text/css" | "text/javascript" | "application/javascript") => {
                format!("{m}; charset=utf-8")
            }
            m => m.to_owned(),
        };
        let mut r = file.data.into_owned().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&mime)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        r
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}
