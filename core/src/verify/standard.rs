//! Standard Webhooks (and Svix, the same scheme under `svix-*` header names):
//! `webhook-signature: v1,<base64> [v1,<base64>…]`, each the HMAC-SHA256 of
//! `"{webhook-id}.{webhook-timestamp}.{body}"` under the base64 key after `whsec_`.

use super::config::SecretConfig;
use super::mac::{self, Algorithm, Encoding};
use super::{check_fresh, parse_ts, SignedRequest, VerifyError};

/// The header names one flavour uses: id, timestamp, signature.
pub struct Headers {
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

pub const STANDARD: Headers = Headers {
    id: "webhook-id",
    timestamp: "webhook-timestamp",
    signature: "webhook-signature",
};
pub const SVIX: Headers = Headers {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

/// The key bytes of a `whsec_<base64>` secret (the prefix is optional, as in the
/// reference libraries).
pub fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    Encoding::Base64.decode(b64).filter(|k| !k.is_empty())
}

pub fn verify(c: &SecretConfig, req: &SignedRequest<'_>, h: Headers) -> Result<(), VerifyError> {
    let id = req.require(h.id)?;
    let ts_text = req.require(h.timestamp)?;
    let ts = parse_ts(ts_text, "timestamp header")?;
    let header = req.require(h.signature)?;
    let sigs: Vec<Vec<u8>> = header
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| Encoding::Base64.decode(s))
        .collect();
    if sigs.is_empty() {
        return Err(VerifyError::Malformed("signature header: no v1 signature"));
    }
    check_fresh(ts, req.now_secs, c.tolerance())?;
    // Validation refuses undecodable secrets; one that slipped through cannot match.
    let keys: Vec<Vec<u8>> = c
        .webhook_secret_key
        .iter()
        .filter_map(decode_secret)
        .collect();
    let parts: [&[u8]; 5] = [
        id.as_bytes(),
        b".",
        ts_text.trim().as_bytes(),
        b".",
        req.body,
    ];
    if mac::any_matches(
        Algorithm::Sha256,
        keys.iter().map(Vec::as_slice),
        &parts,
        &sigs,
    ) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}
