//! Wall-clock time and new ids, in one place so every record uses the same clock.

use hookyard_core::id::{make_id, IdKind};
use rand::Rng;

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A fresh, time-sortable id of `kind`.
pub fn new_id(kind: IdKind) -> String {
    let ms = u64::try_from(now_ms()).unwrap_or(0);
    make_id(kind, ms, rand::thread_rng().gen::<u128>())
}

/// RFC 3339 with milliseconds, as the API shows times.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
