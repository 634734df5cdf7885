//! Linear: `Linear-Signature: <hex HMAC-SHA256 of the body>`; the time of sending is
//! `webhookTimestamp` (Unix ms) in the signed JSON body, checked against the
//! tolerance so a captured webhook cannot be replayed later.

use super::config::SecretConfig;
use super::mac::{self, Algorithm, Encoding};
use super::{check_fresh, SignedRequest, VerifyError};

#[derive(serde::Deserialize)]
struct Stamped {
    #[serde(rename = "webhookTimestamp")]
    webhook_timestamp: i64,
}

pub fn verify(c: &SecretConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let given = req.require("linear-signature")?;
    let sig = Encoding::Hex
        .decode(given)
        .ok_or(VerifyError::Malformed("linear-signature header"))?;
    let keys = c.webhook_secret_key.iter().map(str::as_bytes);
    if !mac::any_matches(Algorithm::Sha256, keys, &[req.body], &[sig]) {
        return Err(VerifyError::Mismatch);
    }
    // Read only once the body is known to be Linear's: parsing costs more than the MAC.
    let stamped: Stamped = serde_json::from_slice(req.body)
        .map_err(|_| VerifyError::Malformed("body: no webhookTimestamp"))?;
    check_fresh(
        stamped.webhook_timestamp.div_euclid(1000),
        req.now_secs,
        c.tolerance(),
    )
}
