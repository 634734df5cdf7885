-- Operating deliveries: destination health, issues, alert triggers, bulk retries.
-- SQLite flavour. Times are Unix milliseconds.
ALTER TABLE destinations ADD COLUMN max_concurrency INTEGER;
ALTER TABLE destinations ADD COLUMN auto_disable_after INTEGER;
ALTER TABLE destinations ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE destinations ADD COLUMN disabled_reason TEXT;
ALTER TABLE destinations ADD COLUMN disable_alerted_at INTEGER;

ALTER TABLE events ADD COLUMN issue_id TEXT;
CREATE INDEX events_by_issue ON events (issue_id, id);
CREATE INDEX events_held ON events (destination_id) WHERE status = 'HOLD';

CREATE TABLE issues (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    connection_id TEXT,
    destination_id TEXT,
    response_status INTEGER,
    error_code TEXT,
    event_count INTEGER NOT NULL DEFAULT 0,
    opened_count INTEGER NOT NULL DEFAULT 0,
    final_count INTEGER NOT NULL DEFAULT 0,
    reference_event_id TEXT,
    reference_attempt_id TEXT,
    opened_at INTEGER NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    dismissed_at INTEGER,
    auto_resolved_at INTEGER,
    resolved_at INTEGER,
    alerted_at INTEGER,
    alerted_count INTEGER NOT NULL DEFAULT 0,
    recovery_alerted_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX issues_by_connection ON issues (connection_id, status);

CREATE TABLE issue_triggers (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE,
    type TEXT NOT NULL,
    configs TEXT NOT NULL,
    channels TEXT NOT NULL,
    disabled_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row: when the last digest went out (claimed by one replica at a time).
CREATE TABLE alert_digest (
    id INTEGER PRIMARY KEY,
    sent_at INTEGER NOT NULL
);
INSERT INTO alert_digest (id, sent_at) VALUES (1, 0);

CREATE TABLE bulk_retries (
    id TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    estimated_count INTEGER NOT NULL,
    processed_count INTEGER NOT NULL DEFAULT 0,
    retried_count INTEGER NOT NULL DEFAULT 0,
    cursor TEXT,
    lease_until INTEGER,
    cancelled_at INTEGER,
    completed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
