//! What a source accepts, as both doors know it, and the checks made before and
//! after the body is read.

use crate::verify::{SignedRequest, Verification};

use super::Refusal;

/// A source's admission rules, borrowed from whatever the door keeps about the
/// source (the Worker's `EdgeSource`, delivery's stored source).
#[derive(Debug, Clone, Copy)]
pub struct AdmissionRules<'a> {
    /// The source's name, for the messages.
    pub source: &'a str,
    /// Methods accepted, compared without regard to case.
    pub allowed_methods: &'a [String],
    /// The largest body accepted: the source's own limit, or the gateway's.
    pub max_body_bytes: u64,
    /// The provider signature to check, if the source has one.
    pub verification: Option<&'a Verification>,
    /// A disabled source takes nothing.
    pub disabled: bool,
    /// What a disabled source answers (the gateway's `disabled_source_status`).
    pub disabled_status: u16,
}

impl AdmissionRules<'_> {
    /// Everything decided before the body is read: the source is enabled, the
    /// method allowed, and the announced `Content-Length` (if any) within the
    /// limit, so a refused request costs neither the read nor the memory.
    pub fn admit_before_body(
        &self,
        method: &str,
        content_length: Option<u64>,
    ) -> Result<(), Refusal> {
        if self.disabled {
            return Err(Refusal::Disabled {
                name: self.source.to_owned(),
                status: self.disabled_status,
            });
        }
        if !self
            .allowed_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method))
        {
            return Err(Refusal::MethodNotAllowed {
                name: self.source.to_owned(),
                method: method.to_owned(),
            });
        }
        if content_length.is_some_and(|n| n > self.max_body_bytes) {
            return Err(self.too_large());
        }
        Ok(())
    }

    /// Everything decided once the body is read: its actual size (a sender may
    /// announce no length, or a false one), then the signature.
    pub fn admit_body(&self, req: &SignedRequest<'_>) -> Result<(), Refusal> {
        if req.body.len() as u64 > self.max_body_bytes {
            return Err(self.too_large());
        }
        self.verify(req)
    }

    /// The source's signature check; a source without one accepts any request.
    pub fn verify(&self, req: &SignedRequest<'_>) -> Result<(), Refusal> {
        match self.verification {
            Some(v) => v.verify(req).map_err(Refusal::Unauthorized),
            None => Ok(()),
        }
    }

    /// The refusal for a body over the limit (also for a door whose body reader
    /// stops at the limit itself).
    pub fn too_large(&self) -> Refusal {
        Refusal::TooLarge {
            limit: self.max_body_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> Verification {
        Verification::from_json(&serde_json::json!({
            "type": "github", "configs": {"webhook_secret_key": "s"}
        }))
        .unwrap()
    }

    fn rules(methods: &[String]) -> AdmissionRules<'_> {
        AdmissionRules {
            source: "gh",
            allowed_methods: methods,
            max_body_bytes: 10,
            verification: None,
            disabled: false,
            disabled_status: 403,
        }
    }

    fn request(body: &[u8]) -> SignedRequest<'_> {
        SignedRequest {
            url: "https://x/e/gh",
            headers: &[],
            body,
            now_secs: 0,
        }
    }

    #[test]
    fn methods_are_checked_without_regard_to_case() {
        let methods = ["POST".to_owned(), "put".to_owned()];
        let r = rules(&methods);
        assert_eq!(r.admit_before_body("POST", None), Ok(()));
        assert_eq!(r.admit_before_body("post", None), Ok(()));
        assert_eq!(r.admit_before_body("PUT", None), Ok(()));
        let refused = r.admit_before_body("GET", None).unwrap_err();
        assert_eq!(refused.status(), 405);
        assert_eq!(
            refused.to_string(),
            "source \"gh\" does not accept GET requests"
        );
        assert_eq!(
            rules(&[])
                .admit_before_body("POST", None)
                .unwrap_err()
                .status(),
            405
        );
    }

    #[test]
    fn the_announced_and_the_actual_size_are_checked() {
        let post = ["POST".to_owned()];
        let r = rules(&post);
        assert_eq!(r.admit_before_body("POST", Some(10)), Ok(()));
        assert_eq!(
            r.admit_before_body("POST", Some(11)),
            Err(Refusal::TooLarge { limit: 10 })
        );
        assert_eq!(r.admit_body(&request(&[0; 10])), Ok(()));
        assert_eq!(
            r.admit_body(&request(&[0; 11])),
            Err(Refusal::TooLarge { limit: 10 })
        );
    }

    #[test]
    fn a_disabled_source_refuses_first_with_its_status() {
        let post = ["POST".to_owned()];
        let r = AdmissionRules {
            disabled: true,
            disabled_status: 410,
            ..rules(&post)
        };
        // Whatever else is wrong with the request, the answer is "disabled".
        for (method, length) in [("POST", None), ("GET", Some(1_000))] {
            let refused = r.admit_before_body(method, length).unwrap_err();
            assert_eq!(
                refused,
                Refusal::Disabled {
                    name: "gh".into(),
                    status: 410
                }
            );
            assert_eq!(refused.status(), 410);
        }
    }

    #[test]
    fn the_signature_is_checked_after_the_size() {
        let v = github();
        let post = ["POST".to_owned()];
        let r = AdmissionRules {
            verification: Some(&v),
            ..rules(&post)
        };
        let refused = r.admit_body(&request(b"{}")).unwrap_err();
        assert_eq!(refused.status(), 401);
        assert!(
            refused
                .body()
                .contains("missing x-hub-signature-256 header"),
            "{}",
            refused.body()
        );
        assert_eq!(
            r.admit_body(&request(&[0; 11])).unwrap_err().status(),
            413,
            "an oversize body is not even verified"
        );
    }
}
