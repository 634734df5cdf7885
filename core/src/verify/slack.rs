//! Slack: `X-Slack-Signature: v0=<hex>`, the HMAC-SHA256 of
//! `"v0:{X-Slack-Request-Timestamp}:{body}"` under the app's signing secret.

use super::config::SecretConfig;
use super::mac::{self, Algorithm, Encoding};
use super::{check_fresh, parse_ts, SignedRequest, VerifyError};

pub fn verify(c: &SecretConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let ts_text = req.require("x-slack-request-timestamp")?;
    let ts = parse_ts(ts_text, "x-slack-request-timestamp header")?;
    let given = req.require("x-slack-signature")?;
    let sig = given
        .strip_prefix("v0=")
        .and_then(|h| Encoding::Hex.decode(h))
        .ok_or(VerifyError::Malformed("x-slack-signature header"))?;
    check_fresh(ts, req.now_secs, c.tolerance())?;
    let keys = c.webhook_secret_key.iter().map(str::as_bytes);
    let parts: [&[u8]; 4] = [b"v0:", ts_text.trim().as_bytes(), b":", req.body];
    if mac::any_matches(Algorithm::Sha256, keys, &parts, &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}
