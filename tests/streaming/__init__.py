"""Tests of the streaming pipeline: producer, analytics host, delivery, reconciliation, CLI."""
