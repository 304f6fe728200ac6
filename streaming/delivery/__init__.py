"""Delivery of the analytics' outputs to S3, behind one interface (base.Delivery): ``FirehoseDelivery``
sends to a real Firehose delivery stream; ``LocalDeliveryStream`` is a small delivery stream of our own
that keeps Firehose's contract where the emulator does not (buffering hints, every failed record under the
error prefix). Both drain the same durable outbox (streaming.state)."""
