-- A million waiting (issue 17): what the monitor reads on every tick must not
-- grow with the backlog. PostgreSQL flavour.

-- The pending events of one connection: the monitor holds those of a paused
-- connection without reading the connection's delivered history.
CREATE INDEX events_pending_by_connection ON events (connection_id)
    WHERE status IN ('QUEUED', 'SCHEDULED');
