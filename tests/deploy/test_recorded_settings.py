"""What `apply` records becomes settings: the batch stack's database addresses (TLS against RDS's CA),
their credentials read from Secrets Manager when a loader connects — never written to a file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from deploy.aws.promote import record
from services import aws
from services.dsn import parse_dsn
from services.settings import AwsSettings, DeploySettings, S3Settings, Settings, StackSettings
from services.warehouse.factory import mysql_loader, redshift_loader, resolved_dsn

BATCH = {
    "MySqlEndpoint": "bdml-mysql.abc.us-east-1.rds.amazonaws.com",
    "MySqlPort": "3306",
    "MySqlSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bdml/mysql-AbCdEf",
    "RedshiftEndpoint": "bdml.xyz.us-east-1.redshift.amazonaws.com",
    "RedshiftPort": "5439",
    "RedshiftSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bdml/redshift-AbCdEf",
    "RedshiftCopyRoleArn": "arn:aws:iam::123456789012:role/bdml-redshift-copy",
}


@pytest.mark.unit
def test_batch_outputs_become_warehouse_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDML_DEPLOYED_FILE", str(tmp_path / "deployed.json"))
    settings = Settings(
        s3=S3Settings(raw_bucket="r-raw-x", processed_bucket="r-processed-x"),
        deploy=DeploySettings(rds_ca_bundle=Path("/etc/rds/global-bundle.pem")),
    )
    path = record(settings, {"batch": BATCH})
    assert "password" not in json.loads(path.read_text())["mysql"]["dsn"]
    loaded = Settings()  # the overlay, as any later command reads it
    mysql = parse_dsn(loaded.mysql.dsn, "mysql")
    assert (mysql.host, mysql.user, mysql.password) == (BATCH["MySqlEndpoint"], "bdml_admin", None)
    assert mysql.options == {"ssl_ca": "/etc/rds/global-bundle.pem"}
    assert loaded.mysql.password_secret == BATCH["MySqlSecretArn"]
    assert loaded.redshift.loader == "copy_s3" and loaded.redshift.iam_role == BATCH["RedshiftCopyRoleArn"]
    assert parse_dsn(loaded.redshift.dsn, "postgresql").host == BATCH["RedshiftEndpoint"]


@pytest.mark.integration
def test_loaders_read_their_password_from_secrets_manager(stack: Settings) -> None:
    name = f"bdml-test/{uuid.uuid4().hex[:8]}"
    secrets = aws.client("secretsmanager", stack)
    arn = secrets.create_secret(
        Name=name, SecretString=json.dumps({"username": "bdml_admin", "password": "p@ss w/rd"})
    )["ARN"]
    try:
        settings = Settings(
            aws=AwsSettings(**stack.aws.model_dump()),
            stack=StackSettings(home=stack.stack.home),
            mysql={"dsn": "mysql://someone@db.example.org:3306/bdml", "password_secret": arn},  # type: ignore[arg-type]
            redshift={  # type: ignore[arg-type]
                "dsn": "postgresql://x@c.example.org:5439/dev",
                "password_secret": arn,
                "loader": "copy_s3",
                "iam_role": BATCH["RedshiftCopyRoleArn"],
            },
        )
        mysql = parse_dsn(mysql_loader(settings, None).dsn, "mysql")  # type: ignore[arg-type]
        assert (mysql.user, mysql.password) == ("bdml_admin", "p@ss w/rd")
        redshift = parse_dsn(redshift_loader(settings, None).dsn, "postgresql")  # type: ignore[arg-type]
        assert (redshift.user, redshift.password) == ("bdml_admin", "p@ss w/rd")
        given = "mysql://u:own@db.example.org/bdml"
        assert resolved_dsn(settings, given, arn, "mysql") == given, "a DSN's own password wins"
    finally:
        secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
