-- (a) Input mapping: JSON path → typed column. The successor of a Kinesis Data Analytics input schema
-- (RecordColumns: Name, Mapping, SqlType), one row per column, read by mapping.py which generates the
-- extraction query from it.
--   json_types: the JSON types a value may arrive as (DuckDB json_type names). randomuser.me sends the
--               coordinates as strings, so VARCHAR is accepted there and must cast cleanly to DOUBLE.
--   valid_when: a condition on the typed value `v`; a row that breaks it is an error, not coerced.
-- Every column is required: a record missing one goes to the error stream with the path in the reason.
SELECT * FROM (VALUES
    ('record_id',  '$.record_id',                      'UUID',      ['VARCHAR'],                               'true'),
    ('event_time', '$.event_time',                     'TIMESTAMP', ['VARCHAR'],                               'v > TIMESTAMP ''2000-01-01'''),
    ('first',      '$.name.first',                     'VARCHAR',   ['VARCHAR'],                               'length(v) BETWEEN 1 AND 200'),
    ('last',       '$.name.last',                      'VARCHAR',   ['VARCHAR'],                               'length(v) BETWEEN 1 AND 200'),
    ('gender',     '$.gender',                         'VARCHAR',   ['VARCHAR'],                               'length(v) BETWEEN 1 AND 40'),
    ('age',        '$.dob.age',                        'INTEGER',   ['UBIGINT', 'BIGINT'],                     'v BETWEEN 0 AND 150'),
    ('latitude',   '$.location.coordinates.latitude',  'DOUBLE',    ['VARCHAR', 'DOUBLE', 'UBIGINT', 'BIGINT'], 'v BETWEEN -90 AND 90'),
    ('longitude',  '$.location.coordinates.longitude', 'DOUBLE',    ['VARCHAR', 'DOUBLE', 'UBIGINT', 'BIGINT'], 'v BETWEEN -180 AND 180')
) AS mapping(name, path, sql_type, json_types, valid_when)
