//! Paddle Billing: `Paddle-Signature: ts=<ts>;h1=<hex>[;h1=<hex>…]`, each `h1` the
//! HMAC-SHA256 of `"{ts}:{body}"` under the notification destination's secret key.

use super::config::SecretConfig;
use super::mac::{self, Algorithm, Encoding};
use super::{check_fresh, parse_ts, SignedRequest, VerifyError};

pub fn verify(c: &SecretConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let header = req.require("paddle-signature")?;
    let mut ts = None;
    let mut sigs = Vec::new();
    for item in header.split(';') {
        match item.trim().split_once('=') {
            Some(("ts", v)) => ts = Some((v.trim(), parse_ts(v, "paddle-signature ts")?)),
            Some(("h1", v)) => sigs.extend(Encoding::Hex.decode(v)),
            _ => {}
        }
    }
    let (ts_text, ts) = ts.ok_or(VerifyError::Malformed("paddle-signature header: no ts="))?;
    if sigs.is_empty() {
        return Err(VerifyError::Malformed("paddle-signature header: no h1="));
    }
    check_fresh(ts, req.now_secs, c.tolerance())?;
    let keys = c.webhook_secret_key.iter().map(str::as_bytes);
    let parts: [&[u8]; 3] = [ts_text.as_bytes(), b":", req.body];
    if mac::any_matches(Algorithm::Sha256, keys, &parts, &sigs) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}
