//! The Worker's source configuration and the signed channel it travels over:
//! the Worker asks delivery's `GET /edge/config` with a signed request, and
//! trusts an answer only when delivery's signature over it checks out and is
//! fresh. The version is a digest of the configuration, so an unchanged one is
//! answered `304` and an isolate never re-parses what it already has.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{sign_channel, verify_channel};
use crate::ingest::AdmissionRules;
use crate::verify::{Verification, VerifyError};

/// What the Worker knows about sources: fetched from delivery's
/// [`CONFIG_PATH`], or pinned in the `HOOKYARD_SOURCES` secret from
/// `hookyard edge config`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Largest body of a source that sets none (delivery's `ingest.max_body_bytes`).
    pub max_body_bytes: u64,
    /// Status answered to webhooks for a disabled source.
    #[serde(default = "default_disabled_status")]
    pub disabled_source_status: u16,
    /// Largest batch body delivery reads (its `edge.max_batch_bytes`); the
    /// consumer splits what it pushes to fit ([`super::encode_batches`]).
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: u64,
    /// By source name.
    pub sources: BTreeMap<String, EdgeSource>,
}

fn default_disabled_status() -> u16 {
    403
}

/// Delivery's default `edge.max_batch_bytes`: room for a 10 MiB body in base64
/// with its headers, plus other messages.
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 32 * 1024 * 1024;

fn default_max_batch_bytes() -> u64 {
    DEFAULT_MAX_BATCH_BYTES
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSource {
    /// Uppercase methods accepted.
    pub allowed_http_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_response: Option<EdgeCustomResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(default)]
    pub disabled: bool,
}

impl EdgeSource {
    /// How the Worker admits webhooks for this source (named `name` in `config`).
    pub fn admission_rules<'c>(&'c self, name: &'c str, config: &EdgeConfig) -> AdmissionRules<'c> {
        AdmissionRules {
            source: name,
            allowed_methods: &self.allowed_http_methods,
            max_body_bytes: self.max_body_bytes.unwrap_or(config.max_body_bytes),
            verification: self.verification.as_ref(),
            disabled: self.disabled,
            disabled_status: config.disabled_source_status,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeCustomResponse {
    /// The `Content-Type` sent.
    pub content_type: String,
    pub body: String,
}

/// Where delivery serves the configuration (GET, signed; see [`sign_config_request`]).
pub const CONFIG_PATH: &str = "/edge/config";

/// What a configuration request signs: the method and path, so a signed request
/// cannot be replayed as a batch (whose signed part is a JSON body).
const CONFIG_REQUEST: &[u8] = b"GET /edge/config";
/// Put before the body of a configuration answer: an answer cannot pass for a batch
/// or a request, nor the other way round.
const CONFIG_ANSWER: &[u8] = b"config.";

/// The body of a `200` from [`CONFIG_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionedConfig {
    /// [`config_version`] of `config`; also the answer's `ETag`.
    pub version: String,
    pub config: EdgeConfig,
}

impl VersionedConfig {
    pub fn new(config: EdgeConfig) -> Result<Self, serde_json::Error> {
        Ok(Self {
            version: config_version(&config)?,
            config,
        })
    }
}

/// A digest of the configuration's JSON (maps are ordered, so equal
/// configurations have equal versions on every replica).
pub fn config_version(config: &EdgeConfig) -> Result<String, serde_json::Error> {
    let json = serde_json::to_vec(config)?;
    Ok(hex::encode(&Sha256::digest(&json)[..16]))
}

/// The signature header of a configuration request sent at `ts`.
pub fn sign_config_request(secret: &str, ts: i64) -> String {
    sign_channel(secret, ts, &[CONFIG_REQUEST])
}

/// Checks a configuration request's timestamp and signature headers.
pub fn verify_config_request<'s>(
    secrets: impl IntoIterator<Item = &'s str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    now_secs: i64,
) -> Result<(), VerifyError> {
    verify_channel(secrets, timestamp, signature, &[CONFIG_REQUEST], now_secs)
}

/// The signature header of a configuration answer (`body` as sent) at `ts`.
pub fn sign_config_answer(secret: &str, ts: i64, body: &[u8]) -> String {
    sign_channel(secret, ts, &[CONFIG_ANSWER, body])
}

/// Checks a configuration answer: signed by delivery with the shared secret, and
/// fresh (an old answer replayed cannot bring back a rotated-out secret).
pub fn verify_config_answer(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    verify_channel(
        [secret],
        timestamp,
        signature,
        &[CONFIG_ANSWER, body],
        now_secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::sign_batch;

    fn config(secret: &str) -> EdgeConfig {
        serde_json::from_value(serde_json::json!({
            "max_body_bytes": 1000,
            "sources": {
                "gh": {"allowed_http_methods": ["POST"],
                       "verification": {"type": "github", "configs": {"webhook_secret_key": secret}}},
                "plain": {"allowed_http_methods": ["POST"]}
            }
        }))
        .unwrap()
    }

    #[test]
    fn the_version_follows_the_content() {
        let a = VersionedConfig::new(config("one")).unwrap();
        let again = VersionedConfig::new(config("one")).unwrap();
        let rotated = VersionedConfig::new(config("two")).unwrap();
        assert_eq!(a.version, again.version);
        assert_ne!(a.version, rotated.version);
        assert_eq!(a.version.len(), 32);
    }

    #[test]
    fn requests_and_answers_are_signed_and_not_interchangeable() {
        let sig = sign_config_request("k", 1_000);
        assert_eq!(
            verify_config_request(["old", "k"], Some("1000"), Some(&sig), 1_010),
            Ok(())
        );
        assert_eq!(
            verify_config_request(["other"], Some("1000"), Some(&sig), 1_010),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify_config_request(["k"], Some("1000"), Some(&sig), 9_999),
            Err(VerifyError::Stale(super::super::BATCH_TOLERANCE_SECS))
        );

        let body = serde_json::to_vec(&VersionedConfig::new(config("s")).unwrap()).unwrap();
        let answer = sign_config_answer("k", 1_000, &body);
        assert_eq!(
            verify_config_answer("k", Some("1000"), Some(&answer), &body, 1_000),
            Ok(())
        );
        let mut changed = body.clone();
        changed[10] ^= 1;
        assert_eq!(
            verify_config_answer("k", Some("1000"), Some(&answer), &changed, 1_000),
            Err(VerifyError::Mismatch)
        );
        // A batch signature over the same bytes is not an answer's, nor a
        // request's signature an answer's.
        let as_batch = sign_batch("k", 1_000, &body);
        assert_eq!(
            verify_config_answer("k", Some("1000"), Some(&as_batch), &body, 1_000),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify_config_answer("k", Some("1000"), Some(&sig), b"", 1_000),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify_config_answer("k", Some("1000"), None, &body, 1_000),
            Err(VerifyError::MissingHeader(super::super::SIGNATURE_HEADER))
        );
    }
}
