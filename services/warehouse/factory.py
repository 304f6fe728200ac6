"""Chooses the warehouse adapters from settings (never from the profile name)."""

from __future__ import annotations

import json

from services import aws
from services.dsn import parse_dsn, with_credentials
from services.objectstore import ObjectStore
from services.settings import Settings
from services.warehouse.mysql import MySQLLoader
from services.warehouse.postgres import CopyStdinLoader, RedshiftS3CopyLoader


def resolved_dsn(settings: Settings, dsn: str, secret: str | None, scheme: str) -> str:
    """``dsn`` with the user and password of ``secret`` (Secrets Manager, read now, kept in memory only)
    when the DSN itself carries no password: how RDS and Redshift credentials reach the loaders."""
    if not secret or parse_dsn(dsn, scheme).password:
        return dsn
    value = json.loads(
        aws.client("secretsmanager", settings).get_secret_value(SecretId=secret)["SecretString"]
    )
    return with_credentials(
        dsn, str(value["password"]), str(value.get("username") or parse_dsn(dsn, scheme).user)
    )


def mysql_loader(settings: Settings, store: ObjectStore) -> MySQLLoader:
    dsn = resolved_dsn(settings, settings.mysql.dsn, settings.mysql.password_secret, "mysql")
    return MySQLLoader(dsn, store, settings.stack.home / "work" / "mysql-load")


def redshift_loader(settings: Settings, store: ObjectStore) -> CopyStdinLoader | RedshiftS3CopyLoader:
    r = settings.redshift
    dsn = resolved_dsn(settings, r.dsn, r.password_secret, "postgresql")
    if r.loader == "copy_s3":
        return RedshiftS3CopyLoader(dsn, r.iam_role or "", settings.aws.region)
    return CopyStdinLoader(dsn, store)
