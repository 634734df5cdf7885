-- Hookyard schema, SQLite flavour. Times are Unix milliseconds.
CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    allowed_http_methods TEXT,
    custom_response TEXT,
    verification TEXT,
    max_body_bytes INTEGER,
    disabled_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE destinations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    url TEXT,
    cli_path TEXT,
    http_method TEXT,
    auth_method TEXT,
    rate_limit INTEGER,
    rate_limit_period TEXT,
    path_forwarding_disabled INTEGER NOT NULL DEFAULT 0,
    disabled_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    name TEXT,
    description TEXT,
    source_id TEXT NOT NULL REFERENCES sources(id),
    destination_id TEXT NOT NULL REFERENCES destinations(id),
    rules TEXT NOT NULL,
    disabled_at INTEGER,
    paused_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (source_id, name)
);
CREATE INDEX connections_by_source ON connections (source_id);
CREATE INDEX connections_by_destination ON connections (destination_id);

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    body_size INTEGER NOT NULL,
    verified INTEGER,
    rejection_cause TEXT,
    events_count INTEGER NOT NULL DEFAULT 0,
    ignored_count INTEGER NOT NULL DEFAULT 0,
    routed INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX requests_by_source ON requests (source_id, id);
CREATE INDEX requests_unrouted ON requests (id) WHERE routed = 0;

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    next_trigger TEXT NOT NULL,
    last_attempt_at INTEGER,
    response_status INTEGER,
    error_code TEXT,
    successful_at INTEGER,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX events_due ON events (next_attempt_at) WHERE status IN ('QUEUED', 'SCHEDULED');
CREATE INDEX events_by_request ON events (request_id);
CREATE INDEX events_by_connection ON events (connection_id, id);
CREATE INDEX events_by_destination ON events (destination_id, id);
CREATE INDEX events_by_status ON events (status, id);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    attempt_number INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    response_status INTEGER,
    response_headers TEXT,
    response_body TEXT,
    error_code TEXT,
    error_message TEXT,
    requested_url TEXT,
    http_method TEXT,
    duration_ms INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX attempts_by_event ON attempts (event_id, id);

CREATE TABLE ignored_events (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    cause TEXT NOT NULL,
    meta TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX ignored_by_request ON ignored_events (request_id);
