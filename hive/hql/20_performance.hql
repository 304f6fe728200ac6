-- Monthly performance data: raw lines → validated, typed, canonical rows (the article's 26 columns,
-- YYYYMM → DATE), written sorted by (id_loan, period) as the pipe-delimited processed table (what
-- Redshift receives), plus the Parquet copy partitioned by reporting year and a rejects table.
-- The canonical 26 fields sit at the same positions in every layout; later releases only append.

SET hive.exec.dynamic.partition=true;
SET hive.exec.dynamic.partition.mode=nonstrict;

DROP TABLE IF EXISTS performance;
CREATE EXTERNAL TABLE performance (
  id_loan STRING, period DATE, act_endg_upb DECIMAL(12,2), delq_sts STRING, loan_age SMALLINT,
  mths_remng SMALLINT, repch_flag STRING, flag_mod STRING, cd_zero_bal SMALLINT, dt_zero_bal DATE,
  new_int_rt DECIMAL(6,3), amt_non_int_brng_upb DECIMAL(12,2), dt_lst_pi DATE,
  mi_recoveries DECIMAL(12,2), net_sale_proceeds STRING, non_mi_recoveries DECIMAL(12,2),
  expenses DECIMAL(12,2), legal_costs DECIMAL(12,2), maint_pres_costs DECIMAL(12,2),
  taxes_ins_costs DECIMAL(12,2), misc_costs DECIMAL(12,2), actual_loss DECIMAL(12,2),
  modcost DECIMAL(12,2), stepmod_ind STRING, dpm_ind STRING, eltv SMALLINT
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'
STORED AS TEXTFILE
LOCATION '${hivevar:processed_root}/performance';

DROP TABLE IF EXISTS performance_rejects;
CREATE EXTERNAL TABLE performance_rejects (
  src_file STRING, src_line BIGINT, layout STRING, reason STRING, raw_line STRING
)
STORED AS PARQUET
LOCATION '${hivevar:processed_root}/rejects/performance';

DROP TABLE IF EXISTS performance_by_year;
CREATE EXTERNAL TABLE performance_by_year (
  id_loan STRING, period DATE, act_endg_upb DECIMAL(12,2), delq_sts STRING, loan_age SMALLINT,
  mths_remng SMALLINT, repch_flag STRING, flag_mod STRING, cd_zero_bal SMALLINT, dt_zero_bal DATE,
  new_int_rt DECIMAL(6,3), amt_non_int_brng_upb DECIMAL(12,2), dt_lst_pi DATE,
  mi_recoveries DECIMAL(12,2), net_sale_proceeds STRING, non_mi_recoveries DECIMAL(12,2),
  expenses DECIMAL(12,2), legal_costs DECIMAL(12,2), maint_pres_costs DECIMAL(12,2),
  taxes_ins_costs DECIMAL(12,2), misc_costs DECIMAL(12,2), actual_loss DECIMAL(12,2),
  modcost DECIMAL(12,2), stepmod_ind STRING, dpm_ind STRING, eltv SMALLINT
)
PARTITIONED BY (period_year INT)
STORED AS PARQUET
LOCATION '${hivevar:processed_root}/performance_by_year';

-- src_line: Hive gives the byte offset of the line; the DuckDB and Spark engines give its line number.
DROP VIEW IF EXISTS performance_fields;
CREATE VIEW performance_fields AS
SELECT
  src_file, src_line, layout, line, size(f) AS n_fields,
  CASE layout WHEN 'article' THEN 26 WHEN 'guide2024' THEN 32 WHEN 'release47' THEN 35 END AS n_expected,
  f[0] AS id_loan, f[1] AS period, f[2] AS act_endg_upb, f[3] AS delq_sts, f[4] AS loan_age,
  f[5] AS mths_remng, f[6] AS repch_flag, f[7] AS flag_mod, f[8] AS cd_zero_bal, f[9] AS dt_zero_bal,
  f[10] AS new_int_rt, f[11] AS amt_non_int_brng_upb, f[12] AS dt_lst_pi, f[13] AS mi_recoveries,
  f[14] AS net_sale_proceeds, f[15] AS non_mi_recoveries, f[16] AS expenses, f[17] AS legal_costs,
  f[18] AS maint_pres_costs, f[19] AS taxes_ins_costs, f[20] AS misc_costs, f[21] AS actual_loss,
  f[22] AS modcost, f[23] AS stepmod_ind, f[24] AS dpm_ind, f[25] AS eltv
FROM (
  SELECT split(line, '\\|') AS f, line, layout,
         INPUT__FILE__NAME AS src_file, BLOCK__OFFSET__INSIDE__FILE AS src_line
  FROM raw_performance
) parsed;

DROP VIEW IF EXISTS performance_checked;
CREATE VIEW performance_checked AS
SELECT *,
  CASE
    -- Fast path: a line matching its layout's clean-line pattern passes every rule below (the
    -- patterns are generated from the layouts by hive/clean_line.py and checked by its tests).
    WHEN layout = 'article' AND line RLIKE '^[0-9A-Za-z][^|�\\x00\\\\]{0,11}[|][0-9]{4}(0[1-9]|1[0-2])[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,3}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3})?[|][^|�\\x00\\\\]{0,6}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,2})?[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,3}([.][0-9]{1,3})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,14}[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?\\z' THEN NULL
    WHEN layout = 'guide2024' AND line RLIKE '^[0-9A-Za-z][^|�\\x00\\\\]{0,11}[|][0-9]{4}(0[1-9]|1[0-2])[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,3}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3})?[|][^|�\\x00\\\\]{0,6}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,2})?[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,3}([.][0-9]{1,3})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,14}[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*\\z' THEN NULL
    WHEN layout = 'release47' AND line RLIKE '^[0-9A-Za-z][^|�\\x00\\\\]{0,11}[|][0-9]{4}(0[1-9]|1[0-2])[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,3}[|](-?[0-9]{1,3})?[|](-?[0-9]{1,3})?[|][^|�\\x00\\\\]{0,6}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,2})?[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,3}([.][0-9]{1,3})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|]([0-9]{4}(0[1-9]|1[0-2]))?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,14}[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|](-?[0-9]{1,10}([.][0-9]{1,2})?)?[|][^|�\\x00\\\\]{0,1}[|][^|�\\x00\\\\]{0,1}[|](-?[0-9]{1,3})?[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*[|][^|�\\x00\\\\]*\\z' THEN NULL
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
    WHEN NOT period RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$' THEN concat('period is not YYYYMM: ', period)
    WHEN act_endg_upb <> '' AND NOT act_endg_upb RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('act_endg_upb is not a decimal: ', act_endg_upb)
    WHEN length(trim(delq_sts)) > 3 THEN concat('delq_sts longer than 3: ', delq_sts)
    WHEN loan_age <> '' AND NOT loan_age RLIKE '^-?[0-9]{1,3}$'
      THEN concat('loan_age is not an integer: ', loan_age)
    WHEN mths_remng <> '' AND NOT mths_remng RLIKE '^-?[0-9]{1,3}$'
      THEN concat('mths_remng is not an integer: ', mths_remng)
    WHEN length(trim(repch_flag)) > 6 THEN concat('repch_flag longer than 6: ', repch_flag)
    WHEN length(trim(flag_mod)) > 1 THEN concat('flag_mod longer than 1: ', flag_mod)
    WHEN cd_zero_bal <> '' AND NOT cd_zero_bal RLIKE '^-?[0-9]{1,2}$'
      THEN concat('cd_zero_bal is not an integer: ', cd_zero_bal)
    WHEN dt_zero_bal <> '' AND NOT dt_zero_bal RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
      THEN concat('dt_zero_bal is not YYYYMM: ', dt_zero_bal)
    WHEN new_int_rt <> '' AND NOT new_int_rt RLIKE '^-?[0-9]{1,3}([.][0-9]{1,3})?$'
      THEN concat('new_int_rt is not a decimal: ', new_int_rt)
    WHEN amt_non_int_brng_upb <> '' AND NOT amt_non_int_brng_upb RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('amt_non_int_brng_upb is not a decimal: ', amt_non_int_brng_upb)
    WHEN dt_lst_pi <> '' AND NOT dt_lst_pi RLIKE '^[0-9]{4}(0[1-9]|1[0-2])$'
      THEN concat('dt_lst_pi is not YYYYMM: ', dt_lst_pi)
    WHEN mi_recoveries <> '' AND NOT mi_recoveries RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('mi_recoveries is not a decimal: ', mi_recoveries)
    WHEN length(trim(net_sale_proceeds)) > 14
      THEN concat('net_sale_proceeds longer than 14: ', net_sale_proceeds)
    WHEN non_mi_recoveries <> '' AND NOT non_mi_recoveries RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('non_mi_recoveries is not a decimal: ', non_mi_recoveries)
    WHEN expenses <> '' AND NOT expenses RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('expenses is not a decimal: ', expenses)
    WHEN legal_costs <> '' AND NOT legal_costs RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('legal_costs is not a decimal: ', legal_costs)
    WHEN maint_pres_costs <> '' AND NOT maint_pres_costs RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('maint_pres_costs is not a decimal: ', maint_pres_costs)
    WHEN taxes_ins_costs <> '' AND NOT taxes_ins_costs RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('taxes_ins_costs is not a decimal: ', taxes_ins_costs)
    WHEN misc_costs <> '' AND NOT misc_costs RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('misc_costs is not a decimal: ', misc_costs)
    WHEN actual_loss <> '' AND NOT actual_loss RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('actual_loss is not a decimal: ', actual_loss)
    WHEN modcost <> '' AND NOT modcost RLIKE '^-?[0-9]{1,10}([.][0-9]{1,2})?$'
      THEN concat('modcost is not a decimal: ', modcost)
    WHEN length(trim(stepmod_ind)) > 1 THEN concat('stepmod_ind longer than 1: ', stepmod_ind)
    WHEN length(trim(dpm_ind)) > 1 THEN concat('dpm_ind longer than 1: ', dpm_ind)
    WHEN eltv <> '' AND NOT eltv RLIKE '^-?[0-9]{1,3}$' THEN concat('eltv is not an integer: ', eltv)
  END AS reason
FROM performance_fields;

-- DISTRIBUTE/SORT BY keeps each loan's history together and in period order (the article sorted it).
-- One pass over the checked lines (a Hive multi-insert): clean rows to performance, the rest to rejects.
FROM performance_checked
INSERT OVERWRITE TABLE performance
SELECT
  trim(id_loan),
  CAST(concat(substr(nullif(period, ''), 1, 4), '-', substr(period, 5, 2), '-01') AS DATE),
  CAST(nullif(act_endg_upb, '') AS DECIMAL(12,2)), nullif(trim(delq_sts), ''), CAST(nullif(loan_age, '') AS SMALLINT),
  CAST(nullif(mths_remng, '') AS SMALLINT), nullif(trim(repch_flag), ''), nullif(trim(flag_mod), ''),
  CAST(nullif(cd_zero_bal, '') AS SMALLINT),
  CAST(concat(substr(nullif(dt_zero_bal, ''), 1, 4), '-', substr(dt_zero_bal, 5, 2), '-01') AS DATE),
  CAST(nullif(new_int_rt, '') AS DECIMAL(6,3)), CAST(nullif(amt_non_int_brng_upb, '') AS DECIMAL(12,2)),
  CAST(concat(substr(nullif(dt_lst_pi, ''), 1, 4), '-', substr(dt_lst_pi, 5, 2), '-01') AS DATE),
  CAST(nullif(mi_recoveries, '') AS DECIMAL(12,2)), nullif(trim(net_sale_proceeds), ''),
  CAST(nullif(non_mi_recoveries, '') AS DECIMAL(12,2)), CAST(nullif(expenses, '') AS DECIMAL(12,2)),
  CAST(nullif(legal_costs, '') AS DECIMAL(12,2)), CAST(nullif(maint_pres_costs, '') AS DECIMAL(12,2)),
  CAST(nullif(taxes_ins_costs, '') AS DECIMAL(12,2)), CAST(nullif(misc_costs, '') AS DECIMAL(12,2)),
  CAST(nullif(actual_loss, '') AS DECIMAL(12,2)), CAST(nullif(modcost, '') AS DECIMAL(12,2)), nullif(trim(stepmod_ind), ''),
  nullif(trim(dpm_ind), ''), CAST(nullif(eltv, '') AS SMALLINT)
WHERE reason IS NULL
DISTRIBUTE BY trim(id_loan)
SORT BY trim(id_loan), period
INSERT OVERWRITE TABLE performance_rejects
SELECT src_file, src_line, layout, reason, line
WHERE reason IS NOT NULL;

-- The Parquet copy, partitioned by reporting year (the article split its inserts at 2010).
INSERT OVERWRITE TABLE performance_by_year PARTITION (period_year)
SELECT
  id_loan, period, act_endg_upb, delq_sts, loan_age, mths_remng, repch_flag, flag_mod, cd_zero_bal,
  dt_zero_bal, new_int_rt, amt_non_int_brng_upb, dt_lst_pi, mi_recoveries, net_sale_proceeds,
  non_mi_recoveries, expenses, legal_costs, maint_pres_costs, taxes_ins_costs, misc_costs, actual_loss,
  modcost, stepmod_ind, dpm_ind, eltv, year(period)
FROM performance
DISTRIBUTE BY year(period);
