//! The shape of a source's `verification`, and what makes one invalid.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::mac::{Algorithm, Encoding};

/// Seconds a signed timestamp may differ from the verifier's clock by default.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// A source's verification: `{"type": ..., "configs": {...}}`. Type names are
/// Hookdeck's (lowercase; the uppercase spelling is accepted too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "configs", rename_all = "snake_case")]
pub enum Verification {
    /// Generic HMAC over the body, in a header of the user's choice.
    #[serde(alias = "HMAC")]
    Hmac(HmacConfig),
    #[serde(alias = "BASIC_AUTH")]
    BasicAuth(BasicAuthConfig),
    #[serde(alias = "API_KEY")]
    ApiKey(ApiKeyConfig),
    #[serde(alias = "STRIPE")]
    Stripe(SecretConfig),
    #[serde(alias = "GITHUB")]
    Github(SecretConfig),
    #[serde(alias = "SHOPIFY")]
    Shopify(SecretConfig),
    /// <https://www.standardwebhooks.com>: `webhook-id`/`-timestamp`/`-signature`.
    #[serde(alias = "STANDARD_WEBHOOKS")]
    StandardWebhooks(SecretConfig),
    /// Standard Webhooks with Svix's `svix-*` header names.
    #[serde(alias = "SVIX")]
    Svix(SecretConfig),
    /// The secret is the account's auth token.
    #[serde(alias = "TWILIO")]
    Twilio(SecretConfig),
    /// The secret is the app's signing secret.
    #[serde(alias = "SLACK")]
    Slack(SecretConfig),
    #[serde(alias = "PADDLE")]
    Paddle(SecretConfig),
    #[serde(alias = "LINEAR")]
    Linear(SecretConfig),
}

/// One secret, or several valid at once while one is rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets(pub Vec<String>);

impl Secrets {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl<'de> Deserialize<'de> for Secrets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let list = match OneOrMany::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a string or a list of strings"))?
        {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
        if list.is_empty() || list.iter().any(String::is_empty) {
            return Err(serde::de::Error::custom(
                "needs at least one secret, and no empty ones",
            ));
        }
        Ok(Secrets(list))
    }
}

impl Serialize for Secrets {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

/// The configuration of the provider schemes: their secret(s) and, for the
/// timestamped ones, how old a signature may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    pub webhook_secret_key: Secrets,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_seconds: Option<i64>,
}

impl SecretConfig {
    pub fn tolerance(&self) -> i64 {
        self.tolerance_seconds.unwrap_or(DEFAULT_TOLERANCE_SECS)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    pub webhook_secret_key: Secrets,
    pub algorithm: Algorithm,
    /// The header carrying the signature.
    pub header_key: String,
    pub encoding: Encoding,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthConfig {
    pub username: String,
    /// One password, or several during a rotation.
    pub password: Secrets,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The header carrying the key (`Authorization` also accepts `Bearer <key>`).
    pub header_key: String,
    pub api_key: Secrets,
}

/// A configuration that parses but cannot work; `field` is its path below
/// `verification`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field `{field}`: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl Verification {
    /// Parses a stored or submitted `verification` value; the error names the field.
    /// (Read in two steps because serde's adjacently tagged enums lose the path of
    /// an error inside `configs`.)
    pub fn from_json(value: &serde_json::Value) -> Result<Self, ConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            configs: serde_json::Value,
        }
        let raw: Raw = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ConfigError {
                field: if path == "." { String::new() } else { path },
                message: e.into_inner().to_string(),
            }
        })?;
        let c = &raw.configs;
        let v = match raw.kind.to_ascii_lowercase().as_str() {
            "hmac" => Verification::Hmac(configs(c)?),
            "basic_auth" => Verification::BasicAuth(configs(c)?),
            "api_key" => Verification::ApiKey(configs(c)?),
            "stripe" => Verification::Stripe(configs(c)?),
            "github" => Verification::Github(configs(c)?),
            "shopify" => Verification::Shopify(configs(c)?),
            "standard_webhooks" => Verification::StandardWebhooks(configs(c)?),
            "svix" => Verification::Svix(configs(c)?),
            "twilio" => Verification::Twilio(configs(c)?),
            "slack" => Verification::Slack(configs(c)?),
            "paddle" => Verification::Paddle(configs(c)?),
            "linear" => Verification::Linear(configs(c)?),
            other => {
                return Err(ConfigError {
                    field: "type".into(),
                    message: format!(
                        "unknown verification type {other:?}; expected one of {}",
                        TYPES.join(", ")
                    ),
                })
            }
        };
        v.validate()?;
        Ok(v)
    }

    /// Checks what serde cannot: decodable secrets, sane tolerances, header names.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field: &str, message: &str| ConfigError {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        match self {
            Verification::Hmac(HmacConfig { header_key, .. })
            | Verification::ApiKey(ApiKeyConfig { header_key, .. })
                if !is_header_name(header_key) =>
            {
                return Err(err("configs.header_key", "must be an HTTP header name"));
            }
            Verification::BasicAuth(c) if c.username.contains(':') => {
                return Err(err("configs.username", "must not contain `:`"));
            }
            Verification::StandardWebhooks(c) | Verification::Svix(c) => {
                for s in c.webhook_secret_key.iter() {
                    if super::standard::decode_secret(s).is_none() {
                        return Err(err(
                            "configs.webhook_secret_key",
                            "must be `whsec_` followed by base64",
                        ));
                    }
                }
            }
            _ => {}
        }
        if let Some(t) = self.secret_config().and_then(|c| c.tolerance_seconds) {
            if !(1..=86_400).contains(&t) {
                return Err(err(
                    "configs.tolerance_seconds",
                    "must be between 1 and 86400",
                ));
            }
        }
        Ok(())
    }

    fn secret_config(&self) -> Option<&SecretConfig> {
        match self {
            Verification::Hmac(_) | Verification::BasicAuth(_) | Verification::ApiKey(_) => None,
            Verification::Stripe(c)
            | Verification::Github(c)
            | Verification::Shopify(c)
            | Verification::StandardWebhooks(c)
            | Verification::Svix(c)
            | Verification::Twilio(c)
            | Verification::Slack(c)
            | Verification::Paddle(c)
            | Verification::Linear(c) => Some(c),
        }
    }
}

/// The verification types, as written in `type`.
pub const TYPES: [&str; 12] = [
    "hmac",
    "basic_auth",
    "api_key",
    "stripe",
    "github",
    "shopify",
    "standard_webhooks",
    "svix",
    "twilio",
    "slack",
    "paddle",
    "linear",
];

fn configs<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, ConfigError> {
    if value.is_null() {
        return Err(ConfigError {
            field: "configs".into(),
            message: "is required".into(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ConfigError {
            field: if path == "." {
                "configs".to_owned()
            } else {
                format!("configs.{path}")
            },
            message: e.into_inner().to_string(),
        }
    })
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hookdecks_shape_parses_and_round_trips() {
        let v = json!({"type": "HMAC", "configs": {"webhook_secret_key": "k",
            "algorithm": "sha512", "header_key": "x-sig", "encoding": "base64url"}});
        let parsed = Verification::from_json(&v).unwrap();
        assert!(matches!(parsed, Verification::Hmac(_)));
        let again = serde_json::to_value(&parsed).unwrap();
        assert_eq!(again["type"], "hmac");
        assert_eq!(again["configs"]["webhook_secret_key"], "k");
        let rotated = json!({"type": "stripe", "configs": {"webhook_secret_key": ["a", "b"]}});
        match Verification::from_json(&rotated).unwrap() {
            Verification::Stripe(c) => assert_eq!(c.webhook_secret_key.0, ["a", "b"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"type": "nope"}), "type"),
            (
                json!({"type": "hmac", "configs": {"webhook_secret_key": "k",
                "algorithm": "md5", "header_key": "x", "encoding": "hex"}}),
                "configs.algorithm",
            ),
            (
                json!({"type": "stripe", "configs": {"webhook_secret_key": []}}),
                "configs.webhook_secret_key",
            ),
            (
                json!({"type": "svix", "configs": {"webhook_secret_key": "whsec_!!"}}),
                "configs.webhook_secret_key",
            ),
            (
                json!({"type": "api_key", "configs": {"header_key": "bad header", "api_key": "k"}}),
                "configs.header_key",
            ),
            (
                json!({"type": "slack", "configs": {"webhook_secret_key": "k", "tolerance_seconds": 0}}),
                "configs.tolerance_seconds",
            ),
            (
                json!({"type": "github", "configs": {"webhook_secret_key": "k", "extra": 1}}),
                "configs.extra",
            ),
        ];
        for (value, field) in cases {
            let e = Verification::from_json(&value).unwrap_err();
            assert!(
                e.field == field,
                "{value}: got field {:?} ({})",
                e.field,
                e.message
            );
        }
    }
}
