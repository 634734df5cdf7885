//! Prefixed, time-sortable identifiers (`req_01j…`), Hookdeck-style.
//!
//! An id is a resource prefix plus a lowercase ULID: ids of one kind sort by creation
//! time as plain strings, which is what lets the API paginate with an id cursor and
//! the store index by id alone.

use ulid::Ulid;

/// The kinds of things that get ids; each has its own prefix so an id says what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    Source,
    Destination,
    Connection,
    Request,
    Event,
    Attempt,
    IgnoredEvent,
    Transformation,
    TransformationExecution,
    Issue,
    Bulk,
    IssueTrigger,
    Bookmark,
    /// A `hookyard listen` session (not stored).
    CliSession,
    PublishKey,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Source => "src",
            IdKind::Destination => "des",
            IdKind::Connection => "web",
            IdKind::Request => "req",
            IdKind::Event => "evt",
            IdKind::Attempt => "atm",
            IdKind::IgnoredEvent => "ign",
            IdKind::Transformation => "trs",
            IdKind::TransformationExecution => "exe",
            IdKind::Issue => "iss",
            IdKind::Bulk => "blk",
            IdKind::IssueTrigger => "it",
            IdKind::Bookmark => "bmk",
            IdKind::CliSession => "cls",
            IdKind::PublishKey => "pbk",
        }
    }
}

/// Builds an id from a millisecond timestamp and 80 random bits (the caller owns the
/// clock and the randomness, so this stays pure and deterministic in tests).
pub fn make_id(kind: IdKind, timestamp_ms: u64, random: u128) -> String {
    let ulid = Ulid::from_parts(timestamp_ms, random);
    let mut s = String::with_capacity(30);
    s.push_str(kind.prefix());
    s.push('_');
    s.push_str(&ulid.to_string().to_ascii_lowercase());
    s
}

/// The creation time encoded in an id, if it is one of ours.
pub fn timestamp_ms(id: &str) -> Option<u64> {
    let (_, ulid) = id.split_once('_')?;
    Ulid::from_string(&ulid.to_ascii_uppercase())
        .ok()
        .map(|u| u.timestamp_ms())
}

/// Whether `id` looks like an id of `kind` (prefix and a well-formed ULID).
pub fn is_id_of(kind: IdKind, id: &str) -> bool {
    match id.split_once('_') {
        Some((prefix, ulid)) => {
            prefix == kind.prefix() && Ulid::from_string(&ulid.to_ascii_uppercase()).is_ok()
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_round_trip_their_timestamp() {
        let a = make_id(IdKind::Request, 1_700_000_000_000, u128::MAX);
        let b = make_id(IdKind::Request, 1_700_000_000_001, 0);
        assert!(a < b, "{a} should sort before {b}");
        assert!(a.starts_with("req_"));
        assert_eq!(a.len(), 30);
        assert_eq!(timestamp_ms(&a), Some(1_700_000_000_000));
        assert!(is_id_of(IdKind::Request, &a));
        assert!(!is_id_of(IdKind::Event, &a));
        assert!(!is_id_of(IdKind::Request, "req_nope"));
    }
}
