//! Values as the database stores them: JSON columns, and text from outside.

use crate::store::{StoreError, StoreResult};

pub(in crate::store) fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Text from outside (a request line, a destination's response) as it can be stored.
///
/// PostgreSQL `TEXT` cannot hold NUL ("invalid byte sequence for encoding UTF8:
/// 0x00"), so one such string failed the whole batch there (a group commit of
/// requests; the dispatcher's attempt writes, which are retried forever) while
/// SQLite stored it. NUL becomes U+FFFD, as `from_utf8_lossy` does for other
/// unrepresentable bytes, on both backends so they return the same text.
pub(in crate::store) fn storable_text(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

pub(in crate::store) fn opt_json<T: serde::Serialize>(
    v: &Option<T>,
) -> StoreResult<Option<String>> {
    v.as_ref().map(to_json).transpose()
}
