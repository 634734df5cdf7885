//! The generic schemes (HMAC in a chosen header, basic auth, API key) and GitHub,
//! which is the generic HMAC with a `sha256=` prefix.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::config::{ApiKeyConfig, BasicAuthConfig, HmacConfig, SecretConfig};
use super::mac::{self, Algorithm, Encoding};
use super::{SignedRequest, VerifyError};

/// HMAC of the body under the source's secret, in `header_key`, encoded as configured.
pub fn verify_hmac(c: &HmacConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let given = req.header(&c.header_key).ok_or(VerifyError::Malformed(
        "request: the signature header is missing",
    ))?;
    let sig = c
        .encoding
        .decode(given)
        .ok_or(VerifyError::Malformed("signature encoding"))?;
    let keys = c.webhook_secret_key.iter().map(str::as_bytes);
    if mac::any_matches(c.algorithm, keys, &[req.body], &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
pub fn verify_github(c: &SecretConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let given = req.require("x-hub-signature-256")?;
    let hex = given
        .strip_prefix("sha256=")
        .ok_or(VerifyError::Malformed("x-hub-signature-256 header"))?;
    let sig = Encoding::Hex
        .decode(hex)
        .ok_or(VerifyError::Malformed("x-hub-signature-256 header"))?;
    let keys = c.webhook_secret_key.iter().map(str::as_bytes);
    if mac::any_matches(Algorithm::Sha256, keys, &[req.body], &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn ct_eq_any<'a>(given: &[u8], candidates: impl IntoIterator<Item = &'a str>) -> bool {
    let mut found = false;
    for c in candidates {
        found |= bool::from(given.ct_eq(c.as_bytes()));
    }
    found
}

/// `Authorization: Basic base64(username:password)`.
pub fn verify_basic_auth(c: &BasicAuthConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let auth = req.require("authorization")?;
    let b64 = auth
        .strip_prefix("Basic ")
        .or_else(|| auth.strip_prefix("basic "))
        .ok_or(VerifyError::Malformed(
            "authorization header: expected Basic",
        ))?;
    let raw = STANDARD
        .decode(b64.trim())
        .map_err(|_| VerifyError::Malformed("authorization header"))?;
    let colon = raw
        .iter()
        .position(|&b| b == b':')
        .ok_or(VerifyError::Malformed("authorization header"))?;
    let (user, pass) = (&raw[..colon], &raw[colon + 1..]);
    let user_ok = bool::from(user.ct_eq(c.username.as_bytes()));
    let pass_ok = ct_eq_any(pass, c.password.iter());
    if user_ok & pass_ok {
        Ok(())
    } else {
        Err(VerifyError::BadCredentials)
    }
}

/// The key in `header_key`; for `Authorization`, `Bearer <key>` as well.
pub fn verify_api_key(c: &ApiKeyConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let given = req
        .header(&c.header_key)
        .ok_or(VerifyError::BadCredentials)?;
    let given = if c.header_key.eq_ignore_ascii_case("authorization") {
        given.strip_prefix("Bearer ").unwrap_or(given)
    } else {
        given
    };
    if ct_eq_any(given.trim().as_bytes(), c.api_key.iter()) {
        Ok(())
    } else {
        Err(VerifyError::BadCredentials)
    }
}
