//! Why a webhook is refused at a front door, the status it is answered with, and
//! the JSON body both doors send (`{"code", "status", "message"}`, the shape of
//! delivery's API errors and Hookdeck's).

use crate::verify::VerifyError;

use super::path::UnsafePath;

/// One reason to refuse a webhook. The `Display` text is the message the sender
/// reads, so it says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not found: the URL is not `/e/<source>…` or the source name is empty.
    #[error("webhooks go to /e/<source>: the URL has no source name")]
    NoSourceName,
    /// Not found: no source has this name.
    #[error("no source named {0:?}")]
    UnknownSource(String),
    /// The source is disabled; `status` is the gateway's configured answer.
    #[error("source {name:?} is disabled")]
    Disabled { name: String, status: u16 },
    #[error("source {name:?} does not accept {method} requests")]
    MethodNotAllowed { name: String, method: String },
    #[error("body is larger than this source's limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("verification failed: {0}")]
    Unauthorized(VerifyError),
    /// The forwarded path could leave the destination's path.
    #[error(transparent)]
    BadPath(#[from] UnsafePath),
}

impl Refusal {
    /// The HTTP status answered.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NoSourceName | Refusal::UnknownSource(_) => 404,
            Refusal::Disabled { status, .. } => *status,
            Refusal::MethodNotAllowed { .. } => 405,
            Refusal::TooLarge { .. } => 413,
            Refusal::Unauthorized(_) => 401,
            Refusal::BadPath(_) => 400,
        }
    }

    /// The `code` of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoSourceName | Refusal::UnknownSource(_) => "NOT_FOUND",
            // The status is the operator's choice (even a 200), so the code says
            // what happened rather than naming a status.
            Refusal::Disabled { .. } => "REJECTED",
            Refusal::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Refusal::TooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Refusal::Unauthorized(_) => "UNAUTHORIZED",
            Refusal::BadPath(_) => "BAD_REQUEST",
        }
    }

    /// The JSON body: `{"code", "status", "message"}`.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code(),
            "status": self.status(),
            "message": self.to_string(),
        })
    }

    /// [`Refusal::body_json`] as text.
    pub fn body(&self) -> String {
        self.body_json().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_its_status_code_and_message() {
        let cases = [
            (Refusal::NoSourceName, 404, "NOT_FOUND", "/e/<source>"),
            (
                Refusal::UnknownSource("gh".into()),
                404,
                "NOT_FOUND",
                "no source named \"gh\"",
            ),
            (
                Refusal::Disabled {
                    name: "gh".into(),
                    status: 403,
                },
                403,
                "REJECTED",
                "source \"gh\" is disabled",
            ),
            (
                Refusal::MethodNotAllowed {
                    name: "gh".into(),
                    method: "GET".into(),
                },
                405,
                "METHOD_NOT_ALLOWED",
                "does not accept GET requests",
            ),
            (
                Refusal::TooLarge { limit: 16 },
                413,
                "PAYLOAD_TOO_LARGE",
                "limit of 16 bytes",
            ),
            (
                Refusal::Unauthorized(VerifyError::Mismatch),
                401,
                "UNAUTHORIZED",
                "verification failed: signature does not match",
            ),
            (
                Refusal::BadPath(UnsafePath::Backslash),
                400,
                "BAD_REQUEST",
                "backslash",
            ),
        ];
        for (refusal, status, code, message) in cases {
            assert_eq!(refusal.status(), status, "{refusal:?}");
            let body: serde_json::Value = serde_json::from_str(&refusal.body()).unwrap();
            assert_eq!(body["status"], status);
            assert_eq!(body["code"], code);
            let text = body["message"].as_str().unwrap();
            assert!(text.contains(message), "{text}");
        }
    }
}
