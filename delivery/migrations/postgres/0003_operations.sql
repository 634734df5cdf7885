-- Operating deliveries: destination health, issues, alert triggers, bulk retries.
-- PostgreSQL flavour. Times are Unix milliseconds.
ALTER TABLE destinations ADD COLUMN max_concurrency BIGINT;
ALTER TABLE destinations ADD COLUMN auto_disable_after BIGINT;
ALTER TABLE destinations ADD COLUMN consecutive_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE destinations ADD COLUMN disabled_reason TEXT;
ALTER TABLE destinations ADD COLUMN disable_alerted_at BIGINT;

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
    response_status BIGINT,
    error_code TEXT,
    event_count BIGINT NOT NULL DEFAULT 0,
    opened_count BIGINT NOT NULL DEFAULT 0,
    final_count BIGINT NOT NULL DEFAULT 0,
    reference_event_id TEXT,
    reference_attempt_id TEXT,
    opened_at BIGINT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    dismissed_at BIGINT,
    auto_resolved_at BIGINT,
    resolved_at BIGINT,
    alerted_at BIGINT,
    alerted_count BIGINT NOT NULL DEFAULT 0,
    recovery_alerted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX issues_by_connection ON issues (connection_id, status);

CREATE TABLE issue_triggers (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE,
    type TEXT NOT NULL,
    configs TEXT NOT NULL,
    channels TEXT NOT NULL,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row: when the last digest went out (claimed by one replica at a time).
CREATE TABLE alert_digest (
    id BIGINT PRIMARY KEY,
    sent_at BIGINT NOT NULL
);
INSERT INTO alert_digest (id, sent_at) VALUES (1, 0);

CREATE TABLE bulk_retries (
    id TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    estimated_count BIGINT NOT NULL,
    processed_count BIGINT NOT NULL DEFAULT 0,
    retried_count BIGINT NOT NULL DEFAULT 0,
    cursor TEXT,
    lease_until BIGINT,
    cancelled_at BIGINT,
    completed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
