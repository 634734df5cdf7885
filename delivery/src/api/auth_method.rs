//! A destination's `auth_method` as the API takes it: read field by field so an
//! error names the field (`auth_method.config.algorithm`), checked, and given the
//! signing secret the user left out.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore;
use serde_json::Value;

use super::{parse_field, validate};
use crate::error::ApiError;
use crate::model::AuthMethod;

/// The types the API takes, as written in `type`.
const TYPES: [&str; 7] = [
    "HOOKDECK_SIGNATURE",
    "BEARER_TOKEN",
    "BASIC_AUTH",
    "API_KEY",
    "STANDARD_WEBHOOKS",
    "CUSTOM_SIGNATURE",
    "OAUTH2_CLIENT_CREDENTIALS",
];

/// Reads `{"type", "config"}` given for `field`. `existing` is the destination's
/// current method: a signing method of the same type given without a secret keeps
/// the current secret (a receiver already verifies with it); otherwise a missing
/// secret is generated and shown in the API's answer.
pub fn parse(field: &str, v: Value, existing: Option<&AuthMethod>) -> Result<AuthMethod, ApiError> {
    let Value::Object(mut obj) = v else {
        return Err(ApiError::Unprocessable(format!(
            "{field} must be an object {{\"type\", \"config\"}}"
        )));
    };
    if let Some(other) = obj.keys().find(|k| *k != "type" && *k != "config") {
        return Err(ApiError::Unprocessable(format!(
            "{field} has an unknown field `{other}` (it takes `type` and `config`)"
        )));
    }
    let ty = match obj.remove("type") {
        Some(Value::String(t)) => t,
        _ => {
            return Err(ApiError::Unprocessable(format!(
                "{field}.type is required: one of {}",
                TYPES.join(", ")
            )))
        }
    };
    let config = obj.remove("config").unwrap_or(Value::Null);
    let at = format!("{field}.config");
    let mut a = match ty.as_str() {
        "HOOKDECK_SIGNATURE" => AuthMethod::HookdeckSignature(parse_field(&at, config)?),
        "BEARER_TOKEN" => AuthMethod::BearerToken(parse_field(&at, config)?),
        "BASIC_AUTH" => AuthMethod::BasicAuth(parse_field(&at, config)?),
        "API_KEY" => AuthMethod::ApiKey(parse_field(&at, config)?),
        // Every field of this config is optional, so no config is an empty one.
        "STANDARD_WEBHOOKS" => {
            AuthMethod::StandardWebhooks(parse_field::<Option<_>>(&at, config)?.unwrap_or_default())
        }
        "CUSTOM_SIGNATURE" => AuthMethod::CustomSignature(parse_field(&at, config)?),
        "OAUTH2_CLIENT_CREDENTIALS" => {
            AuthMethod::OAuth2ClientCredentials(parse_field(&at, config)?)
        }
        other => {
            return Err(ApiError::Unprocessable(format!(
                "{field}.type must be one of {} (got {other:?})",
                TYPES.join(", ")
            )))
        }
    };
    fill_secrets(&mut a, existing);
    validate::auth_method(field, &a)?;
    Ok(a)
}

/// Gives a signing method without a secret (left out or empty) the current one
/// of the same type, or a new random one.
fn fill_secrets(a: &mut AuthMethod, existing: Option<&AuthMethod>) {
    let missing = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
    match a {
        AuthMethod::HookdeckSignature(c) => {
            let c = c.get_or_insert_with(Default::default);
            if missing(&c.signing_secret) {
                let kept = match existing {
                    Some(AuthMethod::HookdeckSignature(Some(old))) => old.signing_secret.clone(),
                    _ => None,
                };
                c.signing_secret = kept.or_else(|| Some(random_secret()));
            }
        }
        AuthMethod::StandardWebhooks(c) => {
            if missing(&c.secret) {
                let kept = match existing {
                    Some(AuthMethod::StandardWebhooks(old)) => old.secret.clone(),
                    _ => None,
                };
                c.secret = kept.or_else(|| Some(random_whsec()));
            }
            if missing(&c.previous_secret) {
                c.previous_secret = None;
            }
        }
        AuthMethod::CustomSignature(c) => {
            if missing(&c.signing_secret) {
                let kept = match existing {
                    Some(AuthMethod::CustomSignature(old)) => old.signing_secret.clone(),
                    _ => None,
                };
                c.signing_secret = kept.or_else(|| Some(random_secret()));
            }
        }
        AuthMethod::BearerToken(_)
        | AuthMethod::BasicAuth(_)
        | AuthMethod::ApiKey(_)
        | AuthMethod::OAuth2ClientCredentials(_) => {}
    }
}

/// 32 random bytes in hex: the HMAC key is the text itself (Hookdeck's and the
/// custom scheme use the secret's bytes), so it is kept to characters any
/// verifier's configuration takes.
fn random_secret() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// `whsec_` and 24 random bytes in base64, the Standard Webhooks form.
fn random_whsec() -> String {
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    format!(
        "{}{}",
        hookyard_core::signing::WHSEC_PREFIX,
        STANDARD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HookdeckSignatureConfig, StandardWebhooksConfig};
    use serde_json::json;

    fn message(r: Result<AuthMethod, ApiError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_field() {
        let m = message(parse(
            "auth_method",
            json!({"type": "CUSTOM_SIGNATURE", "config": {"key": "x-sig", "algorithm": "md5"}}),
            None,
        ));
        assert!(m.contains("`auth_method.config.algorithm`"), "{m}");
        let m = message(parse(
            "destination.auth_method",
            json!({"type": "STANDARD_WEBHOOKS", "config": {"secret": "nope"}}),
            None,
        ));
        assert!(m.contains("destination.auth_method.config.secret"), "{m}");
        let m = message(parse("auth_method", json!({"type": "NOPE"}), None));
        assert!(m.starts_with("auth_method.type must be one of"), "{m}");
        let m = message(parse(
            "auth_method",
            json!({"type": "HOOKDECK_SIGNATURE", "config": {"extra": 1}}),
            None,
        ));
        assert!(
            m.contains("`auth_method.config") && m.contains("extra"),
            "{m}"
        );
    }

    #[test]
    fn missing_secrets_are_generated_and_kept_on_update() {
        let a = parse("a", json!({"type": "STANDARD_WEBHOOKS"}), None).unwrap();
        let AuthMethod::StandardWebhooks(StandardWebhooksConfig {
            secret: Some(secret),
            previous_secret: None,
        }) = &a
        else {
            panic!("{a:?}")
        };
        assert_eq!(
            hookyard_core::signing::whsec_key(secret).map(|k| k.len()),
            Ok(24)
        );
        // The same type again without a secret keeps it; another type does not.
        let again = parse(
            "a",
            json!({"type": "STANDARD_WEBHOOKS", "config": {}}),
            Some(&a),
        )
        .unwrap();
        assert_eq!(again, a);
        let h = parse("a", json!({"type": "HOOKDECK_SIGNATURE"}), Some(&a)).unwrap();
        let AuthMethod::HookdeckSignature(Some(HookdeckSignatureConfig {
            signing_secret: Some(s),
        })) = &h
        else {
            panic!("{h:?}")
        };
        assert_eq!(s.len(), 64);
        let other = parse(
            "a",
            json!({"type": "HOOKDECK_SIGNATURE", "config": {"signing_secret": ""}}),
            None,
        )
        .unwrap();
        assert_ne!(other, h, "a fresh secret each time");
    }

    /// What the API stores loads back through the model's serde shape unchanged.
    #[test]
    fn parsed_methods_round_trip_through_storage() {
        let inputs = [
            json!({"type": "HOOKDECK_SIGNATURE"}),
            json!({"type": "STANDARD_WEBHOOKS", "config": {"previous_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}),
            json!({"type": "CUSTOM_SIGNATURE", "config": {"key": "x-sig", "algorithm": "sha512", "encoding": "base64", "prefix": "v1="}}),
            json!({"type": "OAUTH2_CLIENT_CREDENTIALS", "config": {"client_id": "i", "client_secret": "s",
                "auth_server": "https://auth.example/token", "authentication_type": "x-www-form-urlencoded"}}),
            json!({"type": "API_KEY", "config": {"key": "x-api-key", "api_key": "k"}}),
        ];
        for input in inputs {
            let a = parse("a", input.clone(), None).unwrap();
            let stored = serde_json::to_string(&a).unwrap();
            let loaded: AuthMethod = serde_json::from_str(&stored).unwrap();
            assert_eq!(loaded, a, "{input}");
        }
    }

    /// Rows stored before outgoing signatures existed still load (and sign nothing).
    #[test]
    fn legacy_hookdeck_rows_load() {
        for stored in [
            r#"{"type":"HOOKDECK_SIGNATURE"}"#,
            r#"{"type":"HOOKDECK_SIGNATURE","config":null}"#,
            r#"{"type":"HOOKDECK_SIGNATURE","config":{}}"#,
            r#"{"type":"HOOKDECK_SIGNATURE","config":{"anything":"the old API took"}}"#,
        ] {
            let a: AuthMethod = serde_json::from_str(stored).unwrap();
            assert!(
                matches!(
                    a,
                    AuthMethod::HookdeckSignature(None)
                        | AuthMethod::HookdeckSignature(Some(HookdeckSignatureConfig {
                            signing_secret: None
                        }))
                ),
                "{stored}: {a:?}"
            );
        }
    }
}
