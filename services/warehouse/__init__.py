"""Warehouse loaders: processed text files from S3 into MySQL (RDS) and Redshift (or the PostgreSQL
stand-in). Every load is atomic (stage, check, swap) and idempotent, and returns a reconciled report."""

from services.warehouse.schema import Column, LoadError, TableSchema

__all__ = ["Column", "LoadError", "TableSchema"]
