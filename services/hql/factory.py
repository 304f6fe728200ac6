"""Builds the HQL engine the settings ask for (the profile file or --engine chooses)."""

from __future__ import annotations

from services.hql.base import HqlEngine
from services.settings import Settings

ENGINES = ("duckdb", "spark", "hiveserver2")


def open_engine(settings: Settings) -> HqlEngine:
    name = settings.hql.engine
    if name == "duckdb":
        from services.hql.duckdb_engine import DuckDBEngine

        return DuckDBEngine(settings)
    if name == "spark":  # imported lazily: pyspark is an optional extra and slow to import
        from services.hql.spark_engine import SparkEngine

        return SparkEngine(settings)
    if name == "hiveserver2":
        from services.hql.hiveserver2_engine import HiveServer2Engine

        return HiveServer2Engine(settings)
    raise ValueError(f"unknown HQL engine {name!r}; choose one of {', '.join(ENGINES)}")
