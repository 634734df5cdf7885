-- Lists and search (issue 12): muted events, and the indexes that keep the
-- common filtered lists fast on a large store. SQLite flavour.
ALTER TABLE events ADD COLUMN muted_at INTEGER;

-- Time ranges (created_at[gte]=…) and the last response status (response_status=500).
CREATE INDEX events_by_created ON events (created_at, id);
CREATE INDEX events_by_response_status ON events (response_status, id);
-- A destination's failures (destination_id=…&status=FAILED), the dashboard's first question.
CREATE INDEX events_by_destination_status ON events (destination_id, status, id);
-- order_by=last_attempt_at, never attempted as 0 (the expression the list sorts by).
CREATE INDEX events_by_last_attempt ON events ((COALESCE(last_attempt_at, 0)), id);
-- Requests by time received (ingested_at[gte]=…, order_by=ingested_at).
CREATE INDEX requests_by_received ON requests (received_at, id);
