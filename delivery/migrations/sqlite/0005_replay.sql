-- Replaying what was stored: bulk retries of requests and of ignored events
-- beside those of events, the bulk retry an attempt came from, and bookmarks.
-- SQLite flavour. Times are Unix milliseconds.

-- What a bulk retry retries: 'events', 'requests' or 'ignored_events'; the
-- operations created before this migration all retried events.
ALTER TABLE bulk_retries ADD COLUMN kind TEXT NOT NULL DEFAULT 'events';

-- Set when a bulk retry queues the event (or, for requests, creates it); the
-- attempt it causes copies it.
ALTER TABLE events ADD COLUMN bulk_retry_id TEXT;
ALTER TABLE attempts ADD COLUMN bulk_retry_id TEXT;

-- A stored request saved under a label for a connection, to send through that
-- connection again. `request_id` is Hookdeck's `event_data_id`.
CREATE TABLE bookmarks (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE,
    label TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    last_used_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX bookmarks_by_connection ON bookmarks (connection_id, id);
CREATE INDEX bookmarks_by_request ON bookmarks (request_id);
