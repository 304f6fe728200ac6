-- Event time: every row that mapped cleanly gets its tumbling window; a row whose window closed before
-- this micro-batch (window end + allowed lateness <= the watermark carried in from earlier batches) is
-- late. Like Spark Structured Streaming, the watermark moves between micro-batches, never inside one.
-- A repeat of a record id already processed is a duplicate first of all (even a malformed one: its
-- error was reported the first time).
-- Variables (set by engine.py): window_seconds, allowed_lateness_seconds, watermark (TIMESTAMP, UTC).
CREATE OR REPLACE TEMP TABLE classified AS
WITH windowed AS (
    SELECT *,
        time_bucket(to_seconds(getvariable('window_seconds')), event_time) AS window_start
    FROM mapped
)
SELECT *,
    window_start + to_seconds(getvariable('window_seconds')) AS window_end,
    CASE
        WHEN duplicate THEN 'duplicate'
        WHEN error IS NOT NULL THEN 'error'
        WHEN window_start + to_seconds(getvariable('window_seconds') + getvariable('allowed_lateness_seconds'))
             <= getvariable('watermark') THEN 'late'
        ELSE 'accepted'
    END AS outcome
FROM windowed
