//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>` under the
//! app's client secret. Shopify signs no timestamp.

use super::config::SecretConfig;
use super::mac::{self, Algorithm, Encoding};
use super::{SignedRequest, VerifyError};

pub fn verify(c: &SecretConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let given = req.require("x-shopify-hmac-sha256")?;
    let sig = Encoding::Base64
        .decode(given)
        .ok_or(VerifyError::Malformed("x-shopify-hmac-sha256 header"))?;
    let keys = c.webhook_secret_key.iter().map(str::as_bytes);
    if mac::any_matches(Algorithm::Sha256, keys, &[req.body], &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}
