//! Bookmarks: a stored request saved under a label for a connection, to send
//! through that connection again (Hookdeck's `/bookmarks`).

/// One bookmark. `request_id` is Hookdeck's `event_data_id`: the request's data
/// is what a trigger sends again.
#[derive(Debug, Clone, PartialEq)]
pub struct Bookmark {
    pub id: String,
    /// Unique when set.
    pub name: Option<String>,
    pub label: String,
    /// The connection (Hookdeck's `webhook_id`).
    pub connection_id: String,
    pub request_id: String,
    /// When it was last triggered.
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which bookmarks a list shows.
#[derive(Debug, Clone, Default)]
pub struct BookmarkFilter {
    pub id: Option<String>,
    pub name: Option<String>,
    pub connection_id: Option<String>,
    pub request_id: Option<String>,
    pub label: Option<String>,
}
