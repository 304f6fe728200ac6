"""Chooses the warehouse adapters from settings (never from the profile name)."""

from __future__ import annotations

from services.objectstore import ObjectStore
from services.settings import Settings
from services.warehouse.mysql import MySQLLoader
from services.warehouse.postgres import CopyStdinLoader, RedshiftS3CopyLoader


def mysql_loader(settings: Settings) -> MySQLLoader:
    return MySQLLoader(settings.mysql.dsn)


def redshift_loader(settings: Settings, store: ObjectStore) -> CopyStdinLoader | RedshiftS3CopyLoader:
    if settings.redshift.loader == "copy_s3":
        return RedshiftS3CopyLoader(
            settings.redshift.dsn, settings.redshift.iam_role or "", settings.aws.region
        )
    return CopyStdinLoader(settings.redshift.dsn, store)
