//! Twilio: `X-Twilio-Signature: <base64 HMAC-SHA1>` under the auth token, of the
//! full URL Twilio called followed, for form posts, by every parameter's name and
//! value sorted by name. JSON posts carry `bodySHA256=<hex SHA-256 of the body>`
//! in the URL instead, which is then checked too. Twilio signs no timestamp.

use sha2::Digest as _;
use subtle::ConstantTimeEq;

use super::config::SecretConfig;
use super::mac::{self, Algorithm, Encoding};
use super::{SignedRequest, VerifyError};

/// What Twilio signs: the URL, then the sorted form parameters when the body is a form.
fn signed_text(req: &SignedRequest<'_>) -> String {
    let mut text = req.url.to_owned();
    let is_form = req
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let mut params: Vec<(String, String)> = form_urlencoded::parse(req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        params.sort();
        for (k, v) in params {
            text.push_str(&k);
            text.push_str(&v);
        }
    }
    text
}

fn body_sha256_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "bodySHA256")
        .map(|(_, v)| v.into_owned())
}

pub fn verify(c: &SecretConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let given = req.require("x-twilio-signature")?;
    let sig = Encoding::Base64
        .decode(given)
        .ok_or(VerifyError::Malformed("x-twilio-signature header"))?;
    let text = signed_text(req);
    let keys = c.webhook_secret_key.iter().map(str::as_bytes);
    if !mac::any_matches(Algorithm::Sha1, keys, &[text.as_bytes()], &[sig]) {
        return Err(VerifyError::Mismatch);
    }
    if let Some(expected) = body_sha256_param(req.url) {
        let actual = hex::encode(sha2::Sha256::digest(req.body));
        if !bool::from(
            actual
                .as_bytes()
                .ct_eq(expected.to_ascii_lowercase().as_bytes()),
        ) {
            return Err(VerifyError::Mismatch);
        }
    }
    Ok(())
}
