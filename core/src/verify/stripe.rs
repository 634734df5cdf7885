//! Stripe: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>…]`, each `v1` the hex
//! HMAC-SHA256 of `"{t}.{body}"` under the endpoint secret (`whsec_…`, used as is).

use super::config::SecretConfig;
use super::mac::{self, Algorithm, Encoding};
use super::{check_fresh, parse_ts, SignedRequest, VerifyError};

pub fn verify(c: &SecretConfig, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
    let header = req.require("stripe-signature")?;
    let mut ts = None;
    let mut sigs = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", v)) => ts = Some(parse_ts(v, "stripe-signature timestamp")?),
            // Not hex: a scheme we do not know, ignored like Stripe's libraries do.
            Some(("v1", v)) => sigs.extend(Encoding::Hex.decode(v)),
            _ => {}
        }
    }
    let ts = ts.ok_or(VerifyError::Malformed("stripe-signature header: no t="))?;
    if sigs.is_empty() {
        return Err(VerifyError::Malformed("stripe-signature header: no v1="));
    }
    check_fresh(ts, req.now_secs, c.tolerance())?;
    let t = ts.to_string();
    let keys = c.webhook_secret_key.iter().map(str::as_bytes);
    if mac::any_matches(
        Algorithm::Sha256,
        keys,
        &[t.as_bytes(), b".", req.body],
        &sigs,
    ) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}
