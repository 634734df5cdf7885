-- Issues of broker sources: the gateway could not consume a RABBITMQ, NATS,
-- AWS_SQS or REDIS_STREAM source (its broker unreachable, or refusing). The
-- source the issue is about; NULL for delivery, transformation and
-- backpressure issues, which are about a connection or a destination.
ALTER TABLE issues ADD COLUMN source_id TEXT;
-- `GET /issues?source_id=` and resolving a source's open issues when it is
-- consumed again.
CREATE INDEX issues_by_source ON issues (source_id, status) WHERE source_id IS NOT NULL;
