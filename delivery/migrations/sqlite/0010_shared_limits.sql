-- Rate limits shared by every replica: the earliest time (µs since the epoch,
-- on the database's clock for PostgreSQL) the destination's next attempt may
-- start. A replica leasing a limited destination's events locks this row, so
-- replicas together keep to the rate.
CREATE TABLE destination_limits (
    destination_id TEXT PRIMARY KEY REFERENCES destinations (id) ON DELETE CASCADE,
    next_at_us BIGINT NOT NULL
);
-- Counting a destination's attempts in flight (events under a valid lease) for
-- its concurrency cap, without reading its backlog.
CREATE INDEX events_leased ON events (destination_id, lease_until) WHERE lease_until IS NOT NULL;
