-- Raw landing zone: the files exactly as Freddie Mac ships them, one partition per detected layout
-- (s3://<raw>/freddie/<kind>/layout=<name>/<file>.txt; the uploader detects the layout by field count).
-- One STRING column per line on purpose: a delimited SerDe would silently NULL-pad short rows and drop
-- extra fields. Parsing and validation happen in the next files, where every rejected line is kept
-- with its file, line and reason.
-- Tables are dropped and re-created on every run: dropping an EXTERNAL table keeps its data, and a
-- metastore that outlives a run must not keep an old LOCATION.

DROP TABLE IF EXISTS raw_origination;
CREATE EXTERNAL TABLE raw_origination (line STRING)
PARTITIONED BY (layout STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\001'
STORED AS TEXTFILE
LOCATION '${hivevar:raw_root}/origination';

MSCK REPAIR TABLE raw_origination;

DROP TABLE IF EXISTS raw_performance;
CREATE EXTERNAL TABLE raw_performance (line STRING)
PARTITIONED BY (layout STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\001'
STORED AS TEXTFILE
LOCATION '${hivevar:raw_root}/performance';

MSCK REPAIR TABLE raw_performance;
