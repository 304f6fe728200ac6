-- Origination ("acquisition") data: raw lines → validated, typed, canonical rows (the article's 27
-- columns, YYYYMM → DATE) in a pipe-delimited processed table (what MySQL receives), a Parquet copy
-- partitioned by first-payment year, and a rejects table (file, line, layout, reason, raw line).
-- Every raw line lands in exactly one of `origination` and `origination_rejects`.

SET hive.exec.dynamic.partition=true;
SET hive.exec.dynamic.partition.mode=nonstrict;

DROP TABLE IF EXISTS origination;
CREATE EXTERNAL TABLE origination (
  fico SMALLINT, dt_first_pi DATE, flag_fthb STRING, dt_matr DATE, cd_msa INT, mi_pct SMALLINT,
  cnt_units SMALLINT, occpy_sts STRING, cltv SMALLINT, dti SMALLINT, orig_upb DECIMAL(12,2),
  ltv SMALLINT, int_rt DECIMAL(6,3), channel STRING, ppmt_pnlty STRING, prod_type STRING, st STRING,
  prop_type STRING, zipcode STRING, id_loan STRING, loan_purpose STRING, orig_loan_term SMALLINT,
  cnt_borr SMALLINT, seller_name STRING, servicer_name STRING, flag_sc STRING, pre_harp STRING
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'
STORED AS TEXTFILE
LOCATION '${hivevar:processed_root}/origination';

DROP TABLE IF EXISTS origination_rejects;
CREATE EXTERNAL TABLE origination_rejects (
  src_file STRING, src_line BIGINT, layout STRING, reason STRING, raw_line STRING
)
STORED AS PARQUET
LOCATION '${hivevar:processed_root}/rejects/origination';

DROP TABLE IF EXISTS origination_by_year;
CREATE EXTERNAL TABLE origination_by_year (
  fico SMALLINT, dt_first_pi DATE, flag_fthb STRING, dt_matr DATE, cd_msa INT, mi_pct SMALLINT,
  cnt_units SMALLINT, occpy_sts STRING, cltv SMALLINT, dti SMALLINT, orig_upb DECIMAL(12,2),
  ltv SMALLINT, int_rt DECIMAL(6,3), channel STRING, ppmt_pnlty STRING, prod_type STRING, st STRING,
  prop_type STRING, zipcode STRING, id_loan STRING, loan_purpose STRING, orig_loan_term SMALLINT,
  cnt_borr SMALLINT, seller_name STRING, servicer_name STRING, flag_sc STRING, pre_harp STRING
)
PARTITIONED BY (first_pi_year INT)
STORED AS PARQUET
LOCATION '${hivevar:processed_root}/origination_by_year';

-- Split once and name the canonical fields. Release 47 dropped the servicer name from origination
-- files (it moved to performance), so the last three canonical fields sit one position earlier.
-- src_line: Hive gives the byte offset of the line; the DuckDB and Spark engines give its line number.
DROP VIEW IF EXISTS origination_fields;
CREATE VIEW origination_fields AS
SELECT
  src_file, src_line, layout, line, size(f) AS n_fields,
  CASE layout WHEN 'article' THEN 27 WHEN 'guide2024' THEN 32 WHEN 'release47' THEN 31 END AS n_expected,
  f[0] AS fico, f[1] AS dt_first_pi, f[2] AS flag_fthb, f[3] AS dt_matr, f[4] AS cd_msa,
  f[5] AS mi_pct, f[6] AS cnt_units, f[7] AS occpy_sts, f[8] AS cltv, f[9] AS dti, f[10] AS orig_upb,
  f[11] AS ltv, f[12] AS int_rt, f[13] AS channel, f[14] AS ppmt_pnlty, f[15] AS prod_type,
  f[16] AS st, f[17] AS prop_type, f[18] AS zipcode, f[19] AS id_loan, f[20] AS loan_purpose,
  f[21] AS orig_loan_term, f[22] AS cnt_borr, f[23] AS seller_name,
  CASE WHEN layout = 'release47' THEN NULL ELSE f[24] END AS servicer_name,
  CASE WHEN layout = 'release47' THEN f[24] ELSE f[25] END AS flag_sc,
  CASE WHEN layout = 'release47' THEN f[25] ELSE f[26] END AS pre_harp
FROM (
  SELECT split(line, '\\|') AS f, line, layout,
         INPUT__FILE__NAME AS src_file, BLOCK__OFFSET__INSIDE__FILE AS src_line
  FROM raw_origination
) parsed;

-- The first failing rule names the reason; NULL means the line is clean. Numbers must be plain
-- digits (no spaces: '720 ' is rejected, never trimmed into a number); text fields are trimmed.
-- Blank means unknown in these files: the typed tables get NULL (nullif(x, '') before each CAST).
DROP VIEW IF EXISTS origination_checked;
CREATE VIEW origination_checked AS
SELECT *,
  CASE
    -- Fast path: a line matching its layout's clean-line pattern passes every rule below (the
    -- patterns are generated from the layouts by hive/clean_line.py and checked by its tests).
    WHEN layout = 'article' AND line RLIKE '^(-?[0-9]{1,4})?[|][0-9]{4}(0[1-9]|1[0-2])[|][^|�\\x00\\\\]{0,1}[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,5})?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,1})?[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3}([.][0-9]{1,3})?)?[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,5}[|][^|�\\x00\\\\]{0,2}[|][^|�\\x00\\\\]{0,2}[|][^|�\\x00\\\\]{0,5}[|][0-9A-Za-z][^|�\\x00\\\\]{0,11}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,2})?[|][^|�\\x00\\\\]{0,60}[|][^|�\\x00\\\\]{0,60}[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,12}\\z' THEN NULL
    WHEN layout = 'guide2024' AND line RLIKE '^(-?[0-9]{1,4})?[|][0-9]{4}(0[1-9]|1[0-2])[|][^|�\\x00\\\\]{0,1}[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,5})?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,1})?[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3}([.][0-9]{1,3})?)?[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,5}[|][^|�\\x00\\\\]{0,2}[|][^|�\\x00\\\\]{0,2}[|][^|�\\x00\\\\]{0,5}[|][0-9A-Za-z][^|�\\x00\\\\]{0,11}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,2})?[|][^|�\\x00\\\\]{0,60}[|][^|�\\x00\\\\]{0,60}[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,12}[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*\\z' THEN NULL
    WHEN layout = 'release47' AND line RLIKE '^(-?[0-9]{1,4})?[|][0-9]{4}(0[1-9]|1[0-2])[|][^|�\\x00\\\\]{0,1}[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,5})?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,1})?[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3}([.][0-9]{1,3})?)?[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,5}[|][^|�\\x00\\\\]{0,2}[|][^|�\\x00\\\\]{0,2}[|][^|�\\x00\\\\]{0,5}[|][0-9A-Za-z][^|�\\x00\\\\]{0,11}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,2})?[|][^|�\\x00\\\\]{0,60}[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,12}[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*\\z' THEN NULL
    -- Readers decode each invalid byte as U+FFFD (Hadoop's Text does), so it marks a line that was not UTF-8.
    WHEN instr(line, '�') > 0 THEN 'line is not valid UTF-8'
    -- PostgreSQL and Redshift refuse NUL, and the warehouses' text loaders read a backslash as an
    -- escape: a line holding either would fail or change the load.
    WHEN line RLIKE '[\\x00\\\\]' THEN 'line holds a NUL byte or a backslash'
    WHEN n_expected IS NULL THEN concat('unknown layout partition: ', layout)
    WHEN n_fields <> n_expected
      THEN concat('expected ', CAST(n_expected AS STRING), ' fields, found ', CAST(n_fields AS STRING))
    WHEN trim(id_loan) = '' THEN 'id_loan is blank'
    WHEN length(trim(id_loan)) > 12 THEN concat('id_loan longer than 12: ', id_loan)
    WHEN fico <> '' AND NOT fico RLIKE '^-?[0-9]{1,4}$' THEN concat('fico is not an integer: ', fico)
    WHEN NOT dt_first_pi RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
      THEN concat('dt_first_pi is not YYYYMM: ', dt_first_pi)
    WHEN length(trim(flag_fthb)) > 1 THEN concat('flag_fthb longer than 1: ', flag_fthb)
    WHEN dt_matr <> '' AND NOT dt_matr RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
      THEN concat('dt_matr is not YYYYMM: ', dt_matr)
    WHEN cd_msa <> '' AND NOT cd_msa RLIKE '^-?[0-9]{1,5}$' THEN concat('cd_msa is not an integer: ', cd_msa)
    WHEN mi_pct <> '' AND NOT mi_pct RLIKE '^-?[0-9]{1,3}$' THEN concat('mi_pct is not an integer: ', mi_pct)
    WHEN cnt_units <> '' AND NOT cnt_units RLIKE '^-?[0-9]{1,1}$'
      THEN concat('cnt_units is not an integer: ', cnt_units)
    WHEN length(trim(occpy_sts)) > 1 THEN concat('occpy_sts longer than 1: ', occpy_sts)
    WHEN cltv <> '' AND NOT cltv RLIKE '^-?[0-9]{1,3}$' THEN concat('cltv is not an integer: ', cltv)
    WHEN dti <> '' AND NOT dti RLIKE '^-?[0-9]{1,3}$' THEN concat('dti is not an integer: ', dti)
    WHEN orig_upb <> '' AND NOT orig_upb RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('orig_upb is not a decimal: ', orig_upb)
    WHEN ltv <> '' AND NOT ltv RLIKE '^-?[0-9]{1,3}$' THEN concat('ltv is not an integer: ', ltv)
    WHEN int_rt <> '' AND NOT int_rt RLIKE '^-?[0-9]{1,3}([.][0-9]{1,3})?$'
      THEN concat('int_rt is not a decimal: ', int_rt)
    WHEN length(trim(channel)) > 1 THEN concat('channel longer than 1: ', channel)
    WHEN length(trim(ppmt_pnlty)) > 1 THEN concat('ppmt_pnlty longer than 1: ', ppmt_pnlty)
    WHEN length(trim(prod_type)) > 5 THEN concat('prod_type longer than 5: ', prod_type)
    WHEN length(trim(st)) > 2 THEN concat('st longer than 2: ', st)
    WHEN length(trim(prop_type)) > 2 THEN concat('prop_type longer than 2: ', prop_type)
    WHEN length(trim(zipcode)) > 5 THEN concat('zipcode longer than 5: ', zipcode)
    WHEN length(trim(loan_purpose)) > 1 THEN concat('loan_purpose longer than 1: ', loan_purpose)
    WHEN orig_loan_term <> '' AND NOT orig_loan_term RLIKE '^-?[0-9]{1,3}$'
      THEN concat('orig_loan_term is not an integer: ', orig_loan_term)
    WHEN cnt_borr <> '' AND NOT cnt_borr RLIKE '^-?[0-9]{1,2}$'
      THEN concat('cnt_borr is not an integer: ', cnt_borr)
    WHEN length(trim(seller_name)) > 60 THEN concat('seller_name longer than 60: ', seller_name)
    WHEN length(trim(servicer_name)) > 60 THEN concat('servicer_name longer than 60: ', servicer_name)
    WHEN length(trim(flag_sc)) > 1 THEN concat('flag_sc longer than 1: ', flag_sc)
    WHEN length(trim(pre_harp)) > 12 THEN concat('pre_harp longer than 12: ', pre_harp)
  END AS reason
FROM origination_fields;

-- One pass over the checked lines (a Hive multi-insert): clean rows to origination, the rest to rejects.
FROM origination_checked
INSERT OVERWRITE TABLE origination
SELECT
  CAST(nullif(fico, '') AS SMALLINT),
  CAST(concat(substr(nullif(dt_first_pi, ''), 1, 4), '-', substr(dt_first_pi, 5, 2), '-01') AS DATE),
  nullif(trim(flag_fthb), ''),
  CAST(concat(substr(nullif(dt_matr, ''), 1, 4), '-', substr(dt_matr, 5, 2), '-01') AS DATE),
  CAST(nullif(cd_msa, '') AS INT), CAST(nullif(mi_pct, '') AS SMALLINT), CAST(nullif(cnt_units, '') AS SMALLINT),
  nullif(trim(occpy_sts), ''), CAST(nullif(cltv, '') AS SMALLINT), CAST(nullif(dti, '') AS SMALLINT),
  CAST(nullif(orig_upb, '') AS DECIMAL(12,2)), CAST(nullif(ltv, '') AS SMALLINT), CAST(nullif(int_rt, '') AS DECIMAL(6,3)),
  nullif(trim(channel), ''), nullif(trim(ppmt_pnlty), ''), nullif(trim(prod_type), ''),
  nullif(trim(st), ''), nullif(trim(prop_type), ''), nullif(trim(zipcode), ''), trim(id_loan),
  nullif(trim(loan_purpose), ''), CAST(nullif(orig_loan_term, '') AS SMALLINT), CAST(nullif(cnt_borr, '') AS SMALLINT),
  nullif(trim(seller_name), ''), nullif(trim(servicer_name), ''), nullif(trim(flag_sc), ''),
  nullif(trim(pre_harp), '')
WHERE reason IS NULL
SORT BY id_loan
INSERT OVERWRITE TABLE origination_rejects
SELECT src_file, src_line, layout, reason, line
WHERE reason IS NOT NULL;

-- The article's yearly partitioned table, for queries that filter by vintage.
INSERT OVERWRITE TABLE origination_by_year PARTITION (first_pi_year)
SELECT
  fico, dt_first_pi, flag_fthb, dt_matr, cd_msa, mi_pct, cnt_units, occpy_sts, cltv, dti, orig_upb,
  ltv, int_rt, channel, ppmt_pnlty, prod_type, st, prop_type, zipcode, id_loan, loan_purpose,
  orig_loan_term, cnt_borr, seller_name, servicer_name, flag_sc, pre_harp, year(dt_first_pi)
FROM origination
DISTRIBUTE BY year(dt_first_pi);
