-- Destination types beyond HTTP (issue 14): a destination's `type` and its
-- typed `config` (JSON). Existing destinations are HTTP endpoints.
ALTER TABLE destinations ADD COLUMN type TEXT NOT NULL DEFAULT 'HTTP';
ALTER TABLE destinations ADD COLUMN config TEXT;
