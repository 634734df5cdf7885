//! Provider signature verification: one implementation shared by the edge Worker and
//! the local ingest of `hookyard serve`.
//!
//! A source's `verification` is `{"type": "...", "configs": {...}}`, the shape of
//! Hookdeck's source verification. Every scheme accepts several secrets at once
//! (`webhook_secret_key` may be a list) so a secret can be rotated without a gap;
//! schemes that sign a timestamp refuse one outside `tolerance_seconds` (default
//! 300); comparisons are constant-time (`hmac`'s `verify_slice`, `subtle`).
//!
//! - [`config`]: the configuration types and their validation.
//! - [`mac`]: HMAC over several parts, signature decoding.
//! - one module per provider, plus [`generic`] (HMAC, basic auth, API key).

pub mod config;
pub mod generic;
pub mod linear;
pub mod mac;
pub mod paddle;
pub mod shopify;
pub mod slack;
pub mod standard;
pub mod stripe;
pub mod twilio;

#[cfg(test)]
mod tests;

pub use config::{ConfigError, Secrets, Verification};

/// What a signature is checked against: the request as the provider sent it.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The full URL the provider called (scheme, host, path, query); Twilio signs it.
    pub url: &'a str,
    /// Header names in any case; the first value of a name counts.
    pub headers: &'a [(String, String)],
    /// The body, byte-exact.
    pub body: &'a [u8],
    /// The verifier's clock, Unix seconds.
    pub now_secs: i64,
}

impl SignedRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header, or [`VerifyError::MissingHeader`].
    pub fn require(&self, name: &'static str) -> Result<&str, VerifyError> {
        self.header(name).ok_or(VerifyError::MissingHeader(name))
    }
}

/// Why a request failed verification; the text is what the provider is told (short,
/// and never says which secret or what the right signature would be).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("timestamp is outside the allowed tolerance of {0} s")]
    Stale(i64),
    #[error("signature does not match")]
    Mismatch,
    #[error("credentials do not match")]
    BadCredentials,
}

impl Verification {
    /// Checks `req` against this configuration.
    pub fn verify(&self, req: &SignedRequest<'_>) -> Result<(), VerifyError> {
        match self {
            Verification::Hmac(c) => generic::verify_hmac(c, req),
            Verification::BasicAuth(c) => generic::verify_basic_auth(c, req),
            Verification::ApiKey(c) => generic::verify_api_key(c, req),
            Verification::Stripe(c) => stripe::verify(c, req),
            Verification::Github(c) => generic::verify_github(c, req),
            Verification::Shopify(c) => shopify::verify(c, req),
            Verification::StandardWebhooks(c) => standard::verify(c, req, standard::STANDARD),
            Verification::Svix(c) => standard::verify(c, req, standard::SVIX),
            Verification::Twilio(c) => twilio::verify(c, req),
            Verification::Slack(c) => slack::verify(c, req),
            Verification::Paddle(c) => paddle::verify(c, req),
            Verification::Linear(c) => linear::verify(c, req),
        }
    }
}

/// Rejects a timestamp (Unix seconds) further than `tolerance` from `now`, either way.
pub(crate) fn check_fresh(ts: i64, now: i64, tolerance: i64) -> Result<(), VerifyError> {
    if (now - ts).abs() > tolerance {
        Err(VerifyError::Stale(tolerance))
    } else {
        Ok(())
    }
}

/// A decimal Unix timestamp in seconds.
pub(crate) fn parse_ts(s: &str, what: &'static str) -> Result<i64, VerifyError> {
    s.trim().parse().map_err(|_| VerifyError::Malformed(what))
}
