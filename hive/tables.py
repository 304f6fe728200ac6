"""Where the batch data lives and what the warehouse tables look like (derived from the canonical
Freddie Mac schema, so the HQL, MySQL and Redshift column lists cannot drift apart)."""

from __future__ import annotations

from pathlib import Path

from producers.freddie.layouts import CANONICAL, Kind
from services.objectstore import S3Uri
from services.settings import Settings
from services.warehouse.schema import Column, TableSchema

HQL_DIR = Path(__file__).parent / "hql"
HQL_FILES = tuple(sorted(HQL_DIR.glob("*.hql")))
DATASET = "freddie"


def raw_root(settings: Settings) -> S3Uri:
    return S3Uri(settings.s3.raw_bucket, DATASET)


def processed_root(settings: Settings) -> S3Uri:
    return S3Uri(settings.s3.processed_bucket, DATASET)


def hql_variables(settings: Settings) -> dict[str, str]:
    return {"raw_root": str(raw_root(settings)), "processed_root": str(processed_root(settings))}


def raw_key(kind: Kind, layout: str, file_name: str) -> str:
    """Raw files land in one folder per kind and detected layout (a Hive partition)."""
    return f"{DATASET}/{kind.value}/layout={layout}/{file_name}"


def warehouse_schema(kind: Kind) -> TableSchema:
    columns = tuple(Column(f.name, f.sql_type, f.width) for f in CANONICAL[kind])
    if kind is Kind.ORIGINATION:
        return TableSchema("origination", columns, primary_key=("id_loan",))
    return TableSchema("performance", columns)
