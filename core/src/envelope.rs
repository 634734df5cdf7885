//! The request envelope: one webhook as received, with its body kept byte-exact.
//!
//! The same type travels from the edge Worker through the queue to delivery, and is
//! what the local ingest of `hookyard serve` builds, so both paths store identical
//! records. The body is bytes (webhooks are not always JSON or UTF-8); in JSON it is
//! base64 so the envelope survives any transport.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One received request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `req_…` id; storing is idempotent on it.
    pub id: String,
    /// Name of the source the request was sent to (`/e/{source}`).
    pub source: String,
    /// When the request reached the first Hookyard component, in Unix milliseconds.
    pub received_at_ms: i64,
    pub method: String,
    /// The path after `/e/{source}`, always starting with `/` (just `/` when empty).
    pub path: String,
    /// The raw query string without `?` (empty when none).
    pub query: String,
    /// Header names lowercased, in arrival order; duplicates kept.
    pub headers: Vec<(String, String)>,
    #[serde(serialize_with = "ser_b64", deserialize_with = "de_b64")]
    pub body: Vec<u8>,
}

impl Envelope {
    /// The first value of a header, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn ser_b64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&STANDARD.encode(bytes))
}

fn de_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    STANDARD
        .decode(s.as_bytes())
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_bodies_survive_a_json_round_trip() {
        let env = Envelope {
            id: "req_x".into(),
            source: "stripe".into(),
            received_at_ms: 1,
            method: "POST".into(),
            path: "/".into(),
            query: "a=1".into(),
            headers: vec![("x-a".into(), "1".into()), ("x-a".into(), "2".into())],
            body: vec![0, 159, 255, b'{'],
        };
        let json = serde_json::to_string(&env).unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.header("X-A"), Some("1"));
    }
}
