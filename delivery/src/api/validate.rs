//! Field checks shared by the API's inputs; each error names the field.

use crate::error::ApiError;
use crate::model::{ApiKeyLocation, AuthMethod, HTTP_METHODS};

/// Hookdeck's name rule: letters, digits, `-` and `_`, at most 155 characters.
pub fn name(field: &str, v: &str) -> Result<(), ApiError> {
    if !hookyard_core::names::is_valid_name(v) {
        return Err(ApiError::Unprocessable(format!(
            "{field} must be 1 to 155 letters, digits, `-` or `_` (got {v:?})"
        )));
    }
    Ok(())
}

pub fn description(field: &str, v: &Option<String>) -> Result<(), ApiError> {
    match v {
        Some(d) if d.chars().count() > 500 => Err(ApiError::Unprocessable(format!(
            "{field} must be at most 500 characters"
        ))),
        // PostgreSQL text cannot hold NUL; refuse it here rather than fail in storage.
        Some(d) if d.contains('\0') => Err(ApiError::Unprocessable(format!(
            "{field} must not contain NUL characters"
        ))),
        _ => Ok(()),
    }
}

/// A CLI destination's path: where `hookyard listen` delivers on the local target.
pub fn cli_path(field: &str, v: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        Err(ApiError::Unprocessable(format!(
            "{field} {why} (got {v:?})"
        )))
    };
    if !v.starts_with('/') {
        return bad("must start with /");
    }
    if v.len() > 1000 {
        return bad("must be at most 1000 bytes");
    }
    if v.chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '?' || c == '#')
    {
        return bad("must be a path without spaces, control characters, ? or #");
    }
    Ok(())
}

pub fn http_method(field: &str, v: &str) -> Result<(), ApiError> {
    if HTTP_METHODS.contains(&v) {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!(
            "{field} must be one of {} (got {v:?})",
            HTTP_METHODS.join(", ")
        )))
    }
}

/// An absolute http(s) URL with a host.
pub fn url(field: &str, v: &str) -> Result<(), ApiError> {
    let parsed = url::Url::parse(v)
        .map_err(|e| ApiError::Unprocessable(format!("{field} is not a valid URL ({e}): {v:?}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::Unprocessable(format!(
            "{field} must be an http:// or https:// URL with a host (got {v:?})"
        )));
    }
    Ok(())
}

/// Credentials that can be sent: a header name that is a valid HTTP header name
/// and values that are valid header values, so no attempt fails on them later.
pub fn auth_method(field: &str, a: &AuthMethod) -> Result<(), ApiError> {
    let header_value = |name: &str, v: &str| {
        http::HeaderValue::from_str(v).map(|_| ()).map_err(|_| {
            ApiError::Unprocessable(format!(
                "{field}.config.{name} must be printable text without line breaks"
            ))
        })
    };
    match a {
        AuthMethod::BearerToken(c) => header_value("token", &c.token),
        AuthMethod::BasicAuth(c) => {
            if c.username.contains(':') {
                return Err(ApiError::Unprocessable(format!(
                    "{field}.config.username must not contain `:`"
                )));
            }
            header_value("username", &c.username)?;
            header_value("password", &c.password)
        }
        AuthMethod::ApiKey(c) => {
            if c.key.is_empty() {
                return Err(ApiError::Unprocessable(format!(
                    "{field}.config.key is required"
                )));
            }
            if c.to == ApiKeyLocation::Header && http::HeaderName::try_from(c.key.as_str()).is_err()
            {
                return Err(ApiError::Unprocessable(format!(
                    "{field}.config.key must be a valid HTTP header name (got {:?})",
                    c.key
                )));
            }
            header_value("api_key", &c.api_key)
        }
        // The API fills in a secret before this check; only its form is left.
        AuthMethod::HookdeckSignature(_) => Ok(()),
        AuthMethod::StandardWebhooks(c) => {
            for (name, secret) in [
                ("secret", &c.secret),
                ("previous_secret", &c.previous_secret),
            ] {
                if let Some(s) = secret {
                    hookyard_core::signing::whsec_key(s).map_err(|e| {
                        ApiError::Unprocessable(format!(
                            "{field}.config.{name} {e} (the form is whsec_ and 24 to 64 bytes in base64)"
                        ))
                    })?;
                }
            }
            Ok(())
        }
        AuthMethod::CustomSignature(c) => {
            if c.key.is_empty() || http::HeaderName::try_from(c.key.as_str()).is_err() {
                return Err(ApiError::Unprocessable(format!(
                    "{field}.config.key must be a valid HTTP header name (got {:?})",
                    c.key
                )));
            }
            header_value("prefix", c.prefix.as_deref().unwrap_or_default())
        }
        AuthMethod::OAuth2ClientCredentials(c) => {
            if c.client_id.is_empty() {
                return Err(ApiError::Unprocessable(format!(
                    "{field}.config.client_id is required"
                )));
            }
            url(&format!("{field}.config.auth_server"), &c.auth_server)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_hookdecks_rule() {
        assert!(name("name", "stripe-prod_1").is_ok());
        for bad in ["", "has space", "ümlaut", &"x".repeat(156)] {
            let e = name("name", bad).unwrap_err();
            assert!(e.to_string().starts_with("name must be"), "{e}");
        }
    }

    #[test]
    fn descriptions_are_bounded_and_storable() {
        assert!(description("description", &Some("fine".into())).is_ok());
        assert!(description("description", &Some("x".repeat(501))).is_err());
        assert!(description("description", &Some("a\0b".into())).is_err());
    }

    #[test]
    fn credentials_must_be_sendable() {
        let parse = |v: serde_json::Value| serde_json::from_value::<AuthMethod>(v).unwrap();
        let ok = parse(
            serde_json::json!({"type": "API_KEY", "config": {"key": "x-api-key", "api_key": "k"}}),
        );
        assert!(auth_method("auth_method", &ok).is_ok());
        let bad_name = parse(
            serde_json::json!({"type": "API_KEY", "config": {"key": "bad header", "api_key": "k"}}),
        );
        let e = auth_method("auth_method", &bad_name).unwrap_err();
        assert!(e.to_string().contains("auth_method.config.key"), "{e}");
        let bad_token =
            parse(serde_json::json!({"type": "BEARER_TOKEN", "config": {"token": "a\nb"}}));
        assert!(auth_method("auth_method", &bad_token).is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(url("url", "http://127.0.0.1:9/x").is_ok());
        assert!(url("url", "ftp://example.com").is_err());
        assert!(url("url", "not a url").is_err());
    }
}
