-- (b) The destination query (the article's filter): users aged 21 or more, projected to the fields the
-- S3 destination keeps. Accepted rows it does not select are counted as "filtered" by the engine.
SELECT record_id, event_time, first, last, age, gender, latitude, longitude
FROM classified
WHERE outcome = 'accepted'
  AND age >= 21
