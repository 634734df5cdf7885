//! The web dashboard at `/`: its files (embedded in the binary), signing in and
//! out, and the headers that keep hostile webhook content inert in the page.
//! Every screen is a client of the REST API ([`crate::api`]).

mod assets;
mod session;

use std::sync::Arc;

use axum::http::{header, HeaderName, HeaderValue};
use axum::routing::get;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

/// No inline script or style, no plugins, no framing, and nothing fetched from
/// another origin: a webhook body that reaches the page as markup still cannot run.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<Arc<AppState>> {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    let mut r = Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::file))
        .route(
            "/dashboard/session",
            get(session::current)
                .post(session::sign_in)
                .delete(session::sign_out),
        );
    for (name, value) in headers {
        r = r.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    r
}
