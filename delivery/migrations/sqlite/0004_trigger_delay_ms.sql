-- Issue triggers' backpressure `configs.delay` is in milliseconds, as in
-- Hookdeck; it used to be read as seconds. SQLite flavour (configs is JSON text).
--
-- Values up to 86400 (one day, in seconds) were written as seconds, as Hookyard
-- documented: they become the same time in milliseconds. Larger ones are left
-- as they are: as seconds they would be longer than the day Hookdeck allows, so
-- they were written in milliseconds by a client following Hookdeck's docs (a
-- 300000 meant five minutes, and waited 83 hours until now).
UPDATE issue_triggers
SET configs = json_set(configs, '$.delay', json_extract(configs, '$.delay') * 1000)
WHERE json_type(configs, '$.delay') = 'integer'
  AND json_extract(configs, '$.delay') <= 86400;
