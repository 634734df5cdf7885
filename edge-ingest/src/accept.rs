//! The fetch handler's decisions: the admission rules of the source a webhook is
//! for (the checks themselves are `hookyard_core::ingest`, shared with delivery's
//! local edge), the queue message it becomes, and the answer once it is queued.

use hookyard_core::edge::{EdgeConfig, EdgeSource, QueueMessage, INLINE_MESSAGE_MAX};
use hookyard_core::envelope::Envelope;
use hookyard_core::ingest::{AdmissionRules, Refusal};
use hookyard_core::verify::SignedRequest;

/// The source named `source_name` and its rules, once what can be decided before
/// the body is read has passed ([`AdmissionRules::admit_before_body`]).
pub fn admit<'c>(
    config: &'c EdgeConfig,
    source_name: &'c str,
    method: &str,
    content_length: Option<u64>,
) -> Result<(&'c EdgeSource, AdmissionRules<'c>), Refusal> {
    let source = config
        .sources
        .get(source_name)
        .ok_or_else(|| Refusal::UnknownSource(source_name.to_owned()))?;
    let rules = source.admission_rules(source_name, config);
    rules.admit_before_body(method, content_length)?;
    Ok((source, rules))
}

/// A webhook as the fetch handler received it.
pub struct Incoming<'a> {
    pub source_name: &'a str,
    pub method: &'a str,
    pub content_length: Option<u64>,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub now_ms: i64,
}

impl Incoming<'_> {
    /// Every admission rule of its source, the signature included; the source
    /// it was admitted for.
    pub fn admit<'c>(&'c self, config: &'c EdgeConfig) -> Result<&'c EdgeSource, Refusal> {
        let (source, rules) = admit(config, self.source_name, self.method, self.content_length)?;
        rules.admit_body(&SignedRequest {
            url: self.url,
            headers: self.headers,
            body: self.body,
            now_secs: self.now_ms / 1000,
        })?;
        Ok(source)
    }
}

/// A refusal that a newer configuration might not give: the source may have
/// been created, or its secret rotated, since the Worker's copy was fetched.
pub fn newer_config_may_admit(r: &Refusal) -> bool {
    matches!(r, Refusal::UnknownSource(_) | Refusal::Unauthorized(_))
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
    fn admission_checks_source_method_and_announced_size() {
        let c = config();
        let status = |name, method, length| admit(&c, name, method, length).unwrap_err().status();
        assert_eq!(status("nope", "POST", None), 404);
        assert_eq!(status("off", "POST", None), 403);
        assert_eq!(status("gh", "GET", None), 405);
        assert_eq!(status("small", "PUT", Some(11)), 413);
        assert_eq!(
            admit(&c, "gh", "POST", Some(1000))
                .unwrap()
                .1
                .max_body_bytes,
            1000
        );
        let (_, small) = admit(&c, "small", "POST", None).unwrap();
        let headers = vec![];
        let req = SignedRequest {
            url: "https://x/e/small",
            headers: &headers,
            body: &[0; 11],
            now_secs: 0,
        };
        assert_eq!(small.admit_body(&req).unwrap_err().status(), 413);
        let (_, gh) = admit(&c, "gh", "POST", None).unwrap();
        let req = SignedRequest { body: b"{}", ..req };
        let refused = gh.admit_body(&req).unwrap_err();
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
    fn a_whole_webhook_is_admitted_signature_included() {
        let c = config();
        let body = br#"{"a":1}"#;
        let sig = format!(
            "sha256={}",
            hookyard_core::verify::mac::Encoding::Hex.encode(&hookyard_core::verify::mac::sign(
                hookyard_core::verify::mac::Algorithm::Sha256,
                b"s",
                &[body]
            ))
        );
        let good = vec![("x-hub-signature-256".to_owned(), sig)];
        let incoming = |headers: &'static [(String, String)]| Incoming {
            source_name: "gh",
            method: "POST",
            content_length: None,
            url: "https://edge/e/gh",
            headers,
            body,
            now_ms: 0,
        };
        let good: &'static [(String, String)] = Box::leak(good.into_boxed_slice());
        assert!(incoming(good).admit(&c).is_ok());
        let refused = incoming(&[]).admit(&c).unwrap_err();
        assert!(newer_config_may_admit(&refused));
        let unknown = Incoming {
            source_name: "new",
            ..incoming(good)
        };
        assert!(newer_config_may_admit(&unknown.admit(&c).unwrap_err()));
        let wrong_method = Incoming {
            method: "GET",
            ..incoming(good)
        };
        assert!(!newer_config_may_admit(
            &wrong_method.admit(&c).unwrap_err()
        ));
    }

    #[test]
    fn the_disabled_status_is_the_configured_one() {
        let mut c = config();
        c.disabled_source_status = 410;
        let refused = admit(&c, "off", "POST", None).unwrap_err();
        assert_eq!(refused.status(), 410);
        assert!(
            refused.body().contains("\"REJECTED\""),
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
