-- Transformations (user WebAssembly components), their executions, and the
-- transformed request an event delivers instead of its original request.
CREATE TABLE transformations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    module BYTEA NOT NULL,
    module_hash TEXT NOT NULL,
    module_size BIGINT NOT NULL,
    env TEXT NOT NULL,
    memory_limit_bytes BIGINT,
    timeout_ms BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE transformation_executions (
    id TEXT PRIMARY KEY,
    transformation_id TEXT NOT NULL,
    module_hash TEXT NOT NULL,
    request_id TEXT,
    event_id TEXT,
    connection_id TEXT,
    ok BIGINT NOT NULL,
    error TEXT,
    logs TEXT NOT NULL,
    duration_us BIGINT NOT NULL,
    created_at BIGINT NOT NULL
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
