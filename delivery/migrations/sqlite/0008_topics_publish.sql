-- Topics, the publish API and broker sources (issue 16).
-- A source's type (WEBHOOK, or a broker the gateway consumes) and its config,
-- and where a webhook's topic is found.
ALTER TABLE sources ADD COLUMN type TEXT NOT NULL DEFAULT 'WEBHOOK';
ALTER TABLE sources ADD COLUMN config TEXT;
ALTER TABLE sources ADD COLUMN topic_from TEXT;
-- The topic patterns a connection subscribes to (JSON list; NULL: everything).
ALTER TABLE connections ADD COLUMN topics TEXT;
-- A request's topic, and the key that de-duplicates it within its source (a
-- broker message id, a publish idempotency key): unique, so a redelivery is
-- not stored twice even by two replicas at once. Kept as long as the request.
ALTER TABLE requests ADD COLUMN topic TEXT;
ALTER TABLE requests ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX requests_dedup ON requests (source_id, dedup_key) WHERE dedup_key IS NOT NULL;
CREATE INDEX requests_by_topic ON requests (topic, id) WHERE topic IS NOT NULL;
-- Topics seen, counted at commit.
CREATE TABLE topics (
    source_id TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, name)
);
-- Keys that can only publish; the key itself is never stored.
CREATE TABLE publish_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    source_ids TEXT,
    created_at INTEGER NOT NULL
);
