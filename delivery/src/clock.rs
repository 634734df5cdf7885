//! Wall-clock time and new ids, in one place so every record uses the same clock.

use std::sync::Mutex;

use hookyard_core::id::{make_id, IdKind};

/// Ids from one process increase even within a millisecond, so records created in
/// a burst list in the order they were made.
static IDS: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Now, in Unix microseconds.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A fresh, time-sortable id of `kind`.
pub fn new_id(kind: IdKind) -> String {
    let ulid = {
        let mut generator = IDS.lock().unwrap_or_else(|p| p.into_inner());
        // Overflow needs 2^80 ids in one millisecond; fall back to a random one.
        generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
    };
    make_id(kind, ulid.timestamp_ms(), ulid.random())
}

/// RFC 3339 with milliseconds, as the API shows times.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Unix milliseconds of an RFC 3339 time, if it is one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_a_burst_increase() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(IdKind::Event)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
