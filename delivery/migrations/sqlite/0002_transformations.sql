-- Transformations (user WebAssembly components), their executions, and the
-- transformed request an event delivers instead of its original request.
CREATE TABLE transformations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    module BLOB NOT NULL,
    module_hash TEXT NOT NULL,
    module_size INTEGER NOT NULL,
    env TEXT NOT NULL,
    memory_limit_bytes INTEGER,
    timeout_ms INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE transformation_executions (
    id TEXT PRIMARY KEY,
    transformation_id TEXT NOT NULL,
    module_hash TEXT NOT NULL,
    request_id TEXT,
    event_id TEXT,
    connection_id TEXT,
    ok INTEGER NOT NULL,
    error TEXT,
    logs TEXT NOT NULL,
    duration_us INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX transformation_executions_by_transformation
    ON transformation_executions (transformation_id, id);
CREATE INDEX transformation_executions_by_request ON transformation_executions (request_id);
CREATE INDEX transformation_executions_by_event ON transformation_executions (event_id);

-- Written in the transaction that creates the event; absent: the event delivers
-- its request as received.
CREATE TABLE event_data (
    event_id TEXT PRIMARY KEY,
    request TEXT NOT NULL
);
