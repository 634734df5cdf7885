//! Signatures delivery adds to outgoing requests, so a destination can check that a
//! request came from this gateway unchanged: Hookdeck's `x-hookdeck-signature`,
//! Standard Webhooks' `webhook-*` headers, and a configurable HMAC header.
//!
//! The sending side of [`crate::verify`] (same HMAC code); pure: the caller passes
//! the exact body bytes sent, the ids, the clock and the secrets.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::verify::mac::{self, Algorithm, Encoding};

/// Hookdeck's signature header.
pub const HOOKDECK_HEADER: &str = "x-hookdeck-signature";

/// Standard Webhooks' headers.
pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// The prefix of a Standard Webhooks secret (`whsec_<base64 key>`).
pub const WHSEC_PREFIX: &str = "whsec_";

/// Key sizes the Standard Webhooks spec allows for a symmetric secret, in bytes.
pub const WHSEC_KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Hookdeck's `x-hookdeck-signature`: base64 of the HMAC-SHA256 of the body, keyed
/// with the secret's own bytes (the secret is not decoded), as Hookdeck documents it.
pub fn hookdeck(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(mac::sign(Algorithm::Sha256, secret.as_bytes(), &[body]))
}

/// Why a `whsec_` secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhsecError {
    #[error("must start with `whsec_`")]
    MissingPrefix,
    #[error("must be base64 after `whsec_`")]
    NotBase64,
    #[error("must decode to 24 to 64 bytes (got {0})")]
    Length(usize),
}

/// The HMAC key of a `whsec_<base64>` secret. Stricter than the verifying side
/// ([`crate::verify::standard::decode_secret`]): secrets we sign with are ones we
/// show to users, so they must be in the spec's form.
pub fn whsec_key(secret: &str) -> Result<Vec<u8>, WhsecError> {
    let b64 = secret
        .strip_prefix(WHSEC_PREFIX)
        .ok_or(WhsecError::MissingPrefix)?;
    let key = Encoding::Base64.decode(b64).ok_or(WhsecError::NotBase64)?;
    if !WHSEC_KEY_BYTES.contains(&key.len()) {
        return Err(WhsecError::Length(key.len()));
    }
    Ok(key)
}

/// One Standard Webhooks symmetric signature, `v1,<base64>`: the HMAC-SHA256 of
/// `"{id}.{timestamp}.{body}"` under `key`.
pub fn standard_webhooks_v1(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", body];
    format!(
        "v1,{}",
        STANDARD.encode(mac::sign(Algorithm::Sha256, key, &parts))
    )
}

/// The `webhook-signature` value: one signature per key, space-separated, so a
/// receiver still holding the previous secret verifies during a rotation.
pub fn standard_webhooks_signature<'k>(
    keys: impl IntoIterator<Item = &'k [u8]>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    keys.into_iter()
        .map(|k| standard_webhooks_v1(k, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A custom signature header's value: `prefix` then the encoded HMAC of the body,
/// keyed with the secret's own bytes.
pub fn custom(
    alg: Algorithm,
    encoding: Encoding,
    prefix: &str,
    secret: &str,
    body: &[u8],
) -> String {
    let sig = mac::sign(alg, secret.as_bytes(), &[body]);
    format!("{prefix}{}", encoding.encode(&sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{SignedRequest, Verification};
    use serde_json::json;

    /// The Standard Webhooks reference libraries' own vector (their `sign` tests).
    #[test]
    fn standard_webhooks_matches_the_reference_vector() {
        let key = whsec_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = standard_webhooks_v1(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// Both signatures of a rotation verify with our own verifier, each secret alone.
    #[test]
    fn rotation_signs_with_both_keys() {
        let (current, previous) = (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_c2Vjb25kLXNlY3JldC1vZi0yNC1ieXRlcyE=",
        );
        let keys = [whsec_key(current).unwrap(), whsec_key(previous).unwrap()];
        let body = br#"{"a":1}"#;
        let header = standard_webhooks_signature(
            keys.iter().map(Vec::as_slice),
            "evt_1",
            1_700_000_000,
            body,
        );
        assert_eq!(header.split(' ').count(), 2);
        for secret in [current, previous] {
            let v = Verification::from_json(&json!({"type": "standard_webhooks",
                "configs": {"webhook_secret_key": secret}}))
            .unwrap();
            let headers = [
                (WEBHOOK_ID.to_owned(), "evt_1".to_owned()),
                (WEBHOOK_TIMESTAMP.to_owned(), "1700000000".to_owned()),
                (WEBHOOK_SIGNATURE.to_owned(), header.clone()),
            ];
            let req = |body: &'static [u8]| SignedRequest {
                url: "http://h/",
                headers: &headers,
                body,
                now_secs: 1_700_000_010,
            };
            assert_eq!(v.verify(&req(body)), Ok(()), "{secret}");
            assert!(v.verify(&req(br#"{"a":2}"#)).is_err(), "tampered body");
        }
    }

    #[test]
    fn whsec_secrets_are_checked() {
        assert_eq!(
            whsec_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(WhsecError::MissingPrefix)
        );
        assert_eq!(whsec_key("whsec_not base64!"), Err(WhsecError::NotBase64));
        // 16 bytes: below the spec's minimum.
        assert_eq!(
            whsec_key("whsec_MDEyMzQ1Njc4OWFiY2RlZg=="),
            Err(WhsecError::Length(16))
        );
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert_eq!(whsec_key(&long), Err(WhsecError::Length(65)));
        assert_eq!(
            whsec_key(&format!("whsec_{}", STANDARD.encode([7u8; 64]))).map(|k| k.len()),
            Ok(64)
        );
    }

    /// RFC 4231 test case 2 (key "Jefe"), in Hookdeck's encoding.
    #[test]
    fn hookdeck_is_base64_hmac_sha256_of_the_body() {
        let sig = hookdeck("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            STANDARD.decode(sig).unwrap(),
            hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .unwrap()
        );
    }

    /// RFC 4231 test case 2, SHA-512 and SHA-256, in both encodings and with a prefix.
    #[test]
    fn custom_signatures_follow_algorithm_encoding_and_prefix() {
        let body = b"what do ya want for nothing?";
        assert_eq!(
            custom(Algorithm::Sha256, Encoding::Hex, "sha256=", "Jefe", body),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sha512 = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
        assert_eq!(
            custom(Algorithm::Sha512, Encoding::Hex, "", "Jefe", body),
            sha512
        );
        assert_eq!(
            custom(Algorithm::Sha512, Encoding::Base64, "v1=", "Jefe", body),
            format!("v1={}", STANDARD.encode(hex::decode(sha512).unwrap()))
        );
        // The verifying side's generic HMAC accepts what we send.
        let v = Verification::from_json(&json!({"type": "hmac", "configs": {
            "webhook_secret_key": "Jefe", "algorithm": "sha1", "header_key": "x-sig", "encoding": "hex"}}))
        .unwrap();
        let headers = [(
            "x-sig".to_owned(),
            custom(Algorithm::Sha1, Encoding::Hex, "", "Jefe", body),
        )];
        let req = SignedRequest {
            url: "http://h/",
            headers: &headers,
            body,
            now_secs: 0,
        };
        assert_eq!(v.verify(&req), Ok(()));
    }
}
