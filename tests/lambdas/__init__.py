"""Tests of the Lambdas in lambdas/: their contracts (unit) and their deployed zips (integration)."""
