//! The fetch handler's decisions: which source, whether the method, size and
//! signature pass, and the queue message a webhook becomes.

use hookyard_core::edge::{EdgeConfig, EdgeSource, QueueMessage, INLINE_MESSAGE_MAX};
use hookyard_core::envelope::Envelope;
use hookyard_core::verify::{SignedRequest, VerifyError};

/// Why a webhook is refused; each maps to one status and a short message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound(String),
    Disabled { status: u16, message: String },
    MethodNotAllowed(String),
    TooLarge(u64),
    Unauthorized(VerifyError),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NotFound(_) => 404,
            Refusal::Disabled { status, .. } => *status,
            Refusal::MethodNotAllowed(_) => 405,
            Refusal::TooLarge(_) => 413,
            Refusal::Unauthorized(_) => 401,
        }
    }

    /// The JSON body, in the shape delivery's errors have.
    pub fn body(&self) -> String {
        let (code, message) = match self {
            Refusal::NotFound(m) => ("NOT_FOUND", m.clone()),
            Refusal::Disabled { message, .. } => ("REJECTED", message.clone()),
            Refusal::MethodNotAllowed(m) => ("METHOD_NOT_ALLOWED", m.clone()),
            Refusal::TooLarge(limit) => (
                "PAYLOAD_TOO_LARGE",
                format!("body is larger than this source's limit of {limit} bytes"),
            ),
            Refusal::Unauthorized(e) => ("UNAUTHORIZED", format!("verification failed: {e}")),
        };
        serde_json::json!({"code": code, "status": self.status(), "message": message}).to_string()
    }
}

/// The source name and the path after it, from the URL path (`/e/{source}[/rest]`).
pub fn split_path(path: &str) -> Option<(&str, String)> {
    let after = path.strip_prefix("/e/")?;
    let (source, rest) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, ""),
    };
    if source.is_empty() {
        return None;
    }
    let rest = if rest.is_empty() || rest == "/" {
        "/".to_owned()
    } else {
        rest.to_owned()
    };
    Some((source, rest))
}

/// The source and the body limit that apply, before the body is read.
pub fn admit<'c>(
    config: &'c EdgeConfig,
    source_name: &str,
    method: &str,
    content_length: Option<u64>,
) -> Result<(&'c EdgeSource, u64), Refusal> {
    let source = config
        .sources
        .get(source_name)
        .ok_or_else(|| Refusal::NotFound(format!("no source named {source_name:?}")))?;
    if source.disabled {
        return Err(Refusal::Disabled {
            status: config.disabled_source_status,
            message: format!("source {source_name:?} is disabled"),
        });
    }
    if !source
        .allowed_http_methods
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
    {
        return Err(Refusal::MethodNotAllowed(format!(
            "source {source_name:?} does not accept {method} requests"
        )));
    }
    let limit = source.max_body_bytes.unwrap_or(config.max_body_bytes);
    if content_length.is_some_and(|n| n > limit) {
        return Err(Refusal::TooLarge(limit));
    }
    Ok((source, limit))
}

/// Checks the body size (when no `Content-Length` announced it) and the signature.
pub fn check(source: &EdgeSource, limit: u64, req: &SignedRequest<'_>) -> Result<(), Refusal> {
    if req.body.len() as u64 > limit {
        return Err(Refusal::TooLarge(limit));
    }
    match &source.verification {
        Some(v) => v.verify(req).map_err(Refusal::Unauthorized),
        None => Ok(()),
    }
}

/// What goes to the queue for one webhook.
#[derive(Debug)]
pub struct Outgoing {
    /// The queue message, JSON.
    pub text: String,
    /// Set when the body did not fit in the message: R2 key and body to store first.
    pub spill: Option<(String, Vec<u8>)>,
}

/// The queue message for an envelope; the body moves to R2 when the message would
/// not fit in the queue.
pub fn queue_message(envelope: Envelope) -> Result<Outgoing, serde_json::Error> {
    let mut msg = QueueMessage {
        envelope,
        body_ref: None,
    };
    let inline = serde_json::to_string(&msg)?;
    if inline.len() <= INLINE_MESSAGE_MAX {
        return Ok(Outgoing {
            text: inline,
            spill: None,
        });
    }
    let key = format!("bodies/{}", msg.envelope.id);
    let body = std::mem::take(&mut msg.envelope.body);
    msg.body_ref = Some(key.clone());
    Ok(Outgoing {
        text: serde_json::to_string(&msg)?,
        spill: Some((key, body)),
    })
}

/// The 200 answer: the source's custom response, or our JSON acknowledgement.
pub fn accepted(source: &EdgeSource, request_id: &str) -> (String, String) {
    match &source.custom_response {
        Some(c) => (c.content_type.clone(), c.body.clone()),
        None => (
            "application/json".to_owned(),
            serde_json::json!({
                "status": "SUCCESS",
                "message": "Request accepted by Hookyard's edge",
                "request_id": request_id,
            })
            .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookyard_core::edge::QUEUE_MESSAGE_LIMIT;

    fn config() -> EdgeConfig {
        serde_json::from_value(serde_json::json!({
            "max_body_bytes": 1000,
            "sources": {
                "gh": {"allowed_http_methods": ["POST"],
                       "verification": {"type": "github", "configs": {"webhook_secret_key": "s"}}},
                "small": {"allowed_http_methods": ["POST", "PUT"], "max_body_bytes": 10},
                "off": {"allowed_http_methods": ["POST"], "disabled": true}
            }
        }))
        .unwrap()
    }

    #[test]
    fn paths_split_into_source_and_rest() {
        assert_eq!(split_path("/e/gh"), Some(("gh", "/".into())));
        assert_eq!(split_path("/e/gh/"), Some(("gh", "/".into())));
        assert_eq!(split_path("/e/gh/a/b"), Some(("gh", "/a/b".into())));
        assert_eq!(split_path("/e/"), None);
        assert_eq!(split_path("/x/gh"), None);
    }

    #[test]
    fn admission_checks_source_method_and_announced_size() {
        let c = config();
        assert_eq!(admit(&c, "nope", "POST", None).unwrap_err().status(), 404);
        assert_eq!(admit(&c, "off", "POST", None).unwrap_err().status(), 403);
        assert_eq!(admit(&c, "gh", "GET", None).unwrap_err().status(), 405);
        assert_eq!(
            admit(&c, "small", "PUT", Some(11)).unwrap_err().status(),
            413
        );
        assert_eq!(admit(&c, "gh", "POST", Some(1000)).unwrap().1, 1000);
        let (small, limit) = admit(&c, "small", "POST", None).unwrap();
        let headers = vec![];
        let req = SignedRequest {
            url: "https://x/e/small",
            headers: &headers,
            body: &[0; 11],
            now_secs: 0,
        };
        assert_eq!(check(small, limit, &req).unwrap_err().status(), 413);
        let (gh, limit) = admit(&c, "gh", "POST", None).unwrap();
        let req = SignedRequest { body: b"{}", ..req };
        let refused = check(gh, limit, &req).unwrap_err();
        assert_eq!(refused.status(), 401);
        assert!(
            refused
                .body()
                .contains("missing x-hub-signature-256 header"),
            "{}",
            refused.body()
        );
    }

    #[test]
    fn large_bodies_move_out_of_the_message() {
        let env = |n: usize| Envelope {
            id: "req_1".into(),
            source: "s".into(),
            received_at_ms: 1,
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers: vec![("content-type".into(), "application/octet-stream".into())],
            body: vec![0xff; n],
        };
        let Outgoing { text, spill: r2 } = queue_message(env(80 * 1024)).unwrap();
        assert!(r2.is_none());
        assert!(text.len() <= QUEUE_MESSAGE_LIMIT);
        let back: QueueMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back.envelope.body.len(), 80 * 1024);

        let Outgoing { text, spill: r2 } = queue_message(env(5 * 1024 * 1024)).unwrap();
        let (key, body) = r2.unwrap();
        assert_eq!(key, "bodies/req_1");
        assert_eq!(body.len(), 5 * 1024 * 1024);
        assert!(text.len() < 1024);
        let back: QueueMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back.body_ref.as_deref(), Some("bodies/req_1"));
        assert!(back.envelope.body.is_empty());
    }
}
