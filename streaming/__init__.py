"""The streaming pipeline's local runtime: the long-running Kinesis consumer that hosts the stream
analytics, the delivery adapters (real Firehose, or our AWS-contract-exact local delivery stream), Lambda
packaging, the pipeline runner with its reconciliation, and the `bdml stream` commands."""
