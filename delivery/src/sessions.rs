//! Dashboard sessions: the API key exchanged for a signed, expiring token (the
//! session cookie), and the CSRF token a write made with that cookie must carry.
//!
//! Tokens are signed with a key derived from the API key, not stored: every
//! replica sharing the API key accepts them, and changing the API key ends every
//! session. Signing out revokes the token on the replica that served it (kept
//! until the token would have expired anyway).

use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How long a session lasts after signing in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A session a valid cookie names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub nonce: String,
    pub expires_at_ms: i64,
}

pub struct Sessions {
    key: [u8; 32],
    revoked: moka::sync::Cache<String, ()>,
}

impl Sessions {
    pub fn new(api_key: &str) -> Self {
        let mut mac = mac_with(api_key.as_bytes());
        mac.update(b"hookyard dashboard sessions v1");
        Sessions {
            key: mac.finalize().into_bytes().into(),
            revoked: moka::sync::Cache::builder()
                .time_to_live(SESSION_TTL)
                .max_capacity(100_000)
                .build(),
        }
    }

    /// A new session from `now_ms`: its cookie value and the session.
    pub fn issue(&self, now_ms: i64) -> (String, Session) {
        let mut raw = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut raw);
        let nonce = hex::encode(raw);
        let expires_at_ms = now_ms + SESSION_TTL.as_millis() as i64;
        let token = format!(
            "{expires_at_ms}.{nonce}.{}",
            self.sign(&format!("s|{expires_at_ms}|{nonce}"))
        );
        (
            token,
            Session {
                nonce,
                expires_at_ms,
            },
        )
    }

    /// The session a cookie value names, if it is signed by us, not expired and
    /// not signed out.
    pub fn verify(&self, token: &str, now_ms: i64) -> Option<Session> {
        let mut parts = token.splitn(3, '.');
        let expiry = parts.next()?;
        let nonce = parts.next()?;
        let mac = parts.next()?;
        let expires_at_ms: i64 = expiry.parse().ok()?;
        let expected = self.sign(&format!("s|{expires_at_ms}|{nonce}"));
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return None;
        }
        if expires_at_ms <= now_ms || self.revoked.contains_key(nonce) {
            return None;
        }
        Some(Session {
            nonce: nonce.to_owned(),
            expires_at_ms,
        })
    }

    /// The CSRF token of a session: the page reads it from the sign-in answer and
    /// sends it in a header, which another site's form or script cannot do.
    pub fn csrf_token(&self, session: &Session) -> String {
        self.sign(&format!("c|{}", session.nonce))
    }

    pub fn csrf_ok(&self, session: &Session, given: &str) -> bool {
        bool::from(
            self.csrf_token(session)
                .as_bytes()
                .ct_eq(given.trim().as_bytes()),
        )
    }

    pub fn revoke(&self, session: &Session) {
        self.revoked.insert(session.nonce.clone(), ());
    }

    fn sign(&self, text: &str) -> String {
        let mut mac = mac_with(&self.key);
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_valid_until_it_expires_or_is_revoked() {
        let s = Sessions::new("key-1");
        let (token, session) = s.issue(1_000);
        assert_eq!(s.verify(&token, 2_000), Some(session.clone()));
        assert_eq!(s.verify(&token, session.expires_at_ms), None);
        s.revoke(&session);
        assert_eq!(s.verify(&token, 2_000), None);
    }

    #[test]
    fn a_forged_or_foreign_token_is_refused() {
        let s = Sessions::new("key-1");
        let (token, _) = s.issue(1_000);
        // Another API key signs differently: changing the key ends sessions.
        assert_eq!(Sessions::new("key-2").verify(&token, 2_000), None);
        // A later expiry with the old signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let later = "99999999999999".to_owned();
        parts[0] = &later;
        assert_eq!(s.verify(&parts.join("."), 2_000), None);
        for junk in ["", "a.b", "1.2.3", "x.y.z.w", "..", "1..sig"] {
            assert_eq!(s.verify(junk, 2_000), None, "{junk}");
        }
    }

    #[test]
    fn the_csrf_token_belongs_to_its_session() {
        let s = Sessions::new("key-1");
        let (_, a) = s.issue(1_000);
        let (_, b) = s.issue(1_000);
        assert!(s.csrf_ok(&a, &s.csrf_token(&a)));
        assert!(!s.csrf_ok(&a, &s.csrf_token(&b)));
        assert!(!s.csrf_ok(&a, ""));
    }
}
