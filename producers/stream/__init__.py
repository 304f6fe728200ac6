"""The stream producer: randomuser-style records (generated offline, or fetched from a URL) sent to a
Kinesis data stream within the service limits."""
