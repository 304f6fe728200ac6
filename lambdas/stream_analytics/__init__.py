"""Stream analytics, the successor of Kinesis Data Analytics for SQL: DuckDB runs the SQL files in sql/ over
micro-batches of Kinesis records. One engine, two hosts: the Lambda handler (Kinesis event source with
tumbling windows, for AWS) and the long-running local consumer (streaming.consumer)."""
