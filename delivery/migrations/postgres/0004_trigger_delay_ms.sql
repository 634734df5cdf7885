-- Issue triggers' backpressure `configs.delay` is in milliseconds, as in
-- Hookdeck; it used to be read as seconds. PostgreSQL flavour (configs is JSON
-- text).
--
-- Values up to 86400 (one day, in seconds) were written as seconds, as Hookyard
-- documented: they become the same time in milliseconds. Larger ones are left
-- as they are: as seconds they would be longer than the day Hookdeck allows, so
-- they were written in milliseconds by a client following Hookdeck's docs (a
-- 300000 meant five minutes, and waited 83 hours until now).
UPDATE issue_triggers
SET configs = jsonb_set(
        configs::jsonb,
        '{delay}',
        to_jsonb((configs::jsonb ->> 'delay')::numeric * 1000)
    )::text
WHERE jsonb_typeof(configs::jsonb -> 'delay') = 'number'
  AND (configs::jsonb ->> 'delay')::numeric <= 86400;
