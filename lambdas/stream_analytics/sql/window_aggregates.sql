-- (c) Tumbling-window aggregates on event time: count and age sum per gender per window, for this
-- micro-batch only. windows.py merges them into the window state, fires a window once the watermark
-- passes its end, and re-emits it (revision + 1) when a late-but-allowed row changes it. The average is
-- computed when a window is emitted (sum / count), so partial results from several batches (or shards)
-- combine exactly.
SELECT
    epoch_ms(window_start) AS window_start_ms,
    gender,
    count(*) AS n,
    sum(age) AS sum_age
FROM classified
WHERE outcome = 'accepted'
GROUP BY ALL
