//! The body is a compact JWT (`header.payload.signature`); delivers its decoded
//! header and claims as JSON. The signature is not checked here (verify it at the
//! source); it is kept in `signature`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hookyard_transforms_sdk::{transform, Env, Request};
use serde_json::{json, Value};

fn part(s: &str, what: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("JWT {what} is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("JWT {what} is not JSON: {e}"))
}

#[transform]
fn run(mut req: Request, _env: &Env) -> Result<Request, String> {
    let text = req.text();
    let mut parts = text.trim().split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("body is not a compact JWT (three dot-separated parts)".into());
    };
    let decoded =
        json!({"header": part(h, "header")?, "claims": part(p, "payload")?, "signature": sig});
    req.set_json(&decoded).map_err(|e| e.to_string())?;
    Ok(req)
}
