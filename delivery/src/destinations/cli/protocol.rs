//! What the gateway and `hookyard listen` say to each other over the WebSocket.
//!
//! Deliveries and their answers are binary messages: a 4-byte big-endian length,
//! that many bytes of JSON (the frame), then the body as raw bytes, so a body
//! goes byte-exact and unencoded. Everything else is a JSON text message
//! ([`Control`]).

use serde::{Deserialize, Serialize};

/// The path of the WebSocket, under the API's version prefix.
pub const PATH: &str = "/cli/listen";

/// One delivery to make on the local target (gateway → CLI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventFrame {
    /// Answers name it; unique within a session.
    pub id: u64,
    pub event_id: String,
    pub request_id: String,
    pub connection_id: String,
    pub attempt: i64,
    pub method: String,
    /// Path and query on the local target: the destination's `cli_path`, the path
    /// the provider used after `/e/<source>`, and its query.
    pub path: String,
    /// In order, repeated names kept.
    pub headers: Vec<(String, String)>,
    /// How long the local target may take.
    pub timeout_ms: u64,
    /// Most bytes of the local answer's body to send back.
    pub response_body_limit: usize,
}

/// What the local target answered, or why it could not be reached (CLI → gateway).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplyFrame {
    pub id: u64,
    /// The local URL the CLI sent the event to.
    pub url: String,
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    pub duration_ms: u64,
    /// Hookdeck's attempt error code (`CONNECTION_REFUSED`, `TIMEOUT`, …).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// Text messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// Gateway → CLI, first: the session is registered and events may come.
    Welcome {
        session_id: String,
        destination_id: String,
        destination_name: String,
        /// How often the gateway pings; a CLI that hears nothing for three of
        /// these takes the connection for dead.
        heartbeat_ms: u64,
    },
    /// CLI → gateway: leaving (Ctrl-C); send nothing more, answers follow.
    Drain,
    /// Gateway → CLI: something the developer should know (the destination was
    /// disabled and its events are held, or enabled again), shown as a warning.
    Notice { message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the message is shorter than its header says")]
    Truncated,
    #[error("the frame is not valid: {0}")]
    Json(#[from] serde_json::Error),
}

/// A binary message: the frame as JSON, then the body.
pub fn encode<T: Serialize>(frame: &T, body: &[u8]) -> Vec<u8> {
    // Serializing these plain structs cannot fail; an empty header would be
    // refused by the other side rather than panic here.
    let head = serde_json::to_vec(frame).unwrap_or_default();
    let mut out = Vec::with_capacity(4 + head.len() + body.len());
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(body);
    out
}

/// Splits a binary message into its frame and body.
pub fn decode<T: for<'de> Deserialize<'de>>(msg: &[u8]) -> Result<(T, &[u8]), FrameError> {
    let len: [u8; 4] = msg
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(FrameError::Truncated)?;
    let len = u32::from_be_bytes(len) as usize;
    let head = msg.get(4..4 + len).ok_or(FrameError::Truncated)?;
    let frame = serde_json::from_slice(head)?;
    Ok((frame, &msg[4 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_bodies_round_trip_byte_exact() {
        let reply = ReplyFrame {
            id: 7,
            url: "http://127.0.0.1:9000/x".into(),
            status: Some(201),
            headers: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            duration_ms: 3,
            ..Default::default()
        };
        let body = [0u8, 255, 13, 10, b'{'];
        let msg = encode(&reply, &body);
        let (back, b): (ReplyFrame, &[u8]) = decode(&msg).unwrap();
        assert_eq!(back, reply);
        assert_eq!(b, body);
    }

    #[test]
    fn short_or_garbled_messages_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"\x00\x00",
            b"\x00\x00\x00\x09{}",
            b"\xff\xff\xff\xff",
        ] {
            assert!(matches!(
                decode::<ReplyFrame>(bad),
                Err(FrameError::Truncated)
            ));
        }
        assert!(matches!(
            decode::<ReplyFrame>(b"\x00\x00\x00\x02{}"),
            Err(FrameError::Json(_))
        ));
        let c: Control = serde_json::from_str(r#"{"type":"drain"}"#).unwrap();
        assert_eq!(c, Control::Drain);
    }
}
