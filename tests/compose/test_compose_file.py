"""compose.yaml and services/profiles/compose.toml describe the same stack from two sides (the containers,
and what the host-side CLI connects to). These tests read both and fail when they drift. They need no Docker
engine, so they run everywhere; only `docker compose config` needs the compose plugin."""

from __future__ import annotations

import subprocess
import tomllib
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.settings import AwsSettings, HqlSettings, MySQLSettings, RedshiftSettings

from .conftest import (
    COMPOSE_FILE,
    COMPOSE_PROFILE,
    HIVE_SITE,
    docker_compose_available,
    load_yaml,
    parse_dsn,
    parse_yaml_subset,
)

LOCALSTACK_SERVICES = {"s3", "kinesis", "firehose", "lambda", "apigateway", "iam", "dynamodb", "logs"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    # The TOML sections go through the typed models (defaults included) but not through Settings(), so
    # BDML_* variables in the environment cannot mask a drift.
    with COMPOSE_PROFILE.open("rb") as fh:
        return tomllib.load(fh)


def _published(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """container port -> (host ip, host port) from short-syntax 'ip:host:container' entries."""
    out: dict[int, tuple[str, int]] = {}
    for entry in service.get("ports", []):
        assert isinstance(entry, str), f"use the quoted short syntax for ports, got {entry!r}"
        ip, host, container = entry.split("/")[0].rsplit(":", 2)
        out[int(container)] = (ip, int(host))
    return out


def _hive_site() -> dict[str, str]:
    root = ET.parse(HIVE_SITE).getroot()
    props: dict[str, str] = {}
    for prop in root.iter("property"):
        name, value = prop.findtext("name"), prop.findtext("value")
        assert name and value is not None, "every hive-site property needs a name and a value"
        assert name not in props, f"duplicate hive-site property {name}"
        props[name] = value
    return props


pytestmark = pytest.mark.unit


def test_only_backing_services_start_by_default(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"localstack", "mysql", "postgres", "hive", "bdml"}
    assert services["bdml"]["profiles"] == ["tools"]
    assert all("profiles" not in s for name, s in services.items() if name != "bdml")


def test_localstack_matches_profile(compose: dict[str, Any], profile: dict[str, Any]) -> None:
    aws = AwsSettings(**profile["aws"])
    assert aws.endpoint_url is not None
    endpoint = urlsplit(aws.endpoint_url)
    svc = compose["services"]["localstack"]
    assert svc["image"] == "localstack/localstack:4.14"  # last tag without an auth token
    assert svc["environment"]["LOCALSTACK_AUTH_TOKEN"].startswith("${LOCALSTACK_AUTH_TOKEN")
    assert set(svc["environment"]["SERVICES"].split(",")) == LOCALSTACK_SERVICES
    assert svc["environment"]["AWS_DEFAULT_REGION"] == aws.region
    assert _published(svc)[4566] == (endpoint.hostname, endpoint.port)
    assert "/_localstack/health" in " ".join(svc["healthcheck"]["test"])


def test_mysql_matches_profile(compose: dict[str, Any], profile: dict[str, Any]) -> None:
    dsn = parse_dsn(MySQLSettings(**profile["mysql"]).dsn)
    svc = compose["services"]["mysql"]
    assert svc["image"] == "mysql:8.4"
    assert dsn.scheme == "mysql"
    assert dsn.user == "root", "compose.yaml only sets the root password"
    assert svc["environment"]["MYSQL_ROOT_PASSWORD"] == dsn.password
    assert svc["environment"]["MYSQL_DATABASE"] == dsn.database
    assert _published(svc)[3306] == (dsn.host, dsn.port)
    assert "--local-infile=1" in svc["command"], "the loader needs LOAD DATA LOCAL"
    assert "healthcheck" in svc


def test_postgres_matches_profile(compose: dict[str, Any], profile: dict[str, Any]) -> None:
    dsn = parse_dsn(RedshiftSettings(**profile["redshift"]).dsn)
    svc = compose["services"]["postgres"]
    assert svc["image"] == "postgres:16"
    assert dsn.scheme == "postgresql"
    assert svc["environment"]["POSTGRES_USER"] == dsn.user
    assert svc["environment"]["POSTGRES_PASSWORD"] == dsn.password
    assert svc["environment"]["POSTGRES_DB"] == dsn.database
    assert _published(svc)[5432] == (dsn.host, dsn.port)
    assert "healthcheck" in svc


def test_hive_matches_profile(compose: dict[str, Any], profile: dict[str, Any]) -> None:
    hql = HqlSettings(**profile["hql"])
    aws = AwsSettings(**profile["aws"])
    svc = compose["services"]["hive"]
    site = _hive_site()
    assert hql.engine == "hiveserver2"
    assert svc["image"] == "apache/hive:4.0.1"
    assert svc["environment"]["SERVICE_NAME"] == "hiveserver2"
    assert "localstack" in svc["depends_on"]
    thrift_port = int(site["hive.server2.thrift.port"])
    assert _published(svc)[thrift_port] == (hql.hiveserver2_host, hql.hiveserver2_port)
    assert site["hive.server2.authentication"] == hql.hiveserver2_auth
    assert any(
        v.startswith("./docker/hive/hive-site.xml:/opt/hive/conf/hive-site.xml") for v in svc["volumes"]
    )
    # S3A reaches LocalStack by service name inside the compose network.
    assert site["fs.s3a.endpoint"] == "http://localstack:4566"
    assert site["fs.s3a.endpoint.region"] == aws.region
    assert site["fs.s3a.path.style.access"] == "true"
    assert site["fs.s3a.connection.ssl.enabled"] == "false"
    assert site["fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert (site["fs.s3a.access.key"], site["fs.s3a.secret.key"]) == (
        aws.access_key_id,
        aws.secret_access_key,
    )


def test_cli_container_points_at_service_names(compose: dict[str, Any], profile: dict[str, Any]) -> None:
    """The bdml container gets compose.toml's endpoints with 127.0.0.1 swapped for the service names."""
    env = compose["services"]["bdml"]["environment"]
    assert env["BDML_PROFILE"] == "compose"
    assert compose["services"]["bdml"]["build"]["dockerfile"] == "docker/Dockerfile"

    def in_network(dsn: str, service: str) -> str:
        d = parse_dsn(dsn)
        return f"{d.scheme}://{d.user}:{d.password}@{service}:{d.port}/{d.database}"

    assert env["BDML_MYSQL__DSN"] == in_network(MySQLSettings(**profile["mysql"]).dsn, "mysql")
    assert env["BDML_REDSHIFT__DSN"] == in_network(RedshiftSettings(**profile["redshift"]).dsn, "postgres")
    assert env["BDML_AWS__ENDPOINT_URL"] == "http://localstack:4566"
    hql = HqlSettings(**profile["hql"])
    assert env["BDML_HQL__ENGINE"] == hql.engine
    assert env["BDML_HQL__HIVESERVER2_HOST"] == "hive"
    assert int(env["BDML_HQL__HIVESERVER2_PORT"]) == hql.hiveserver2_port
    assert set(compose["services"]["bdml"]["depends_on"]) == {"localstack", "mysql", "postgres", "hive"}


def test_subset_parser_reads_a_sample() -> None:
    sample = """
# comment
name: x   # trailing comment
services:
  a:
    image: repo/img:1.2
    command: ["--flag=1", "b"]
    env:
      KEY: "va#lue"
      OTHER: 'it''s'
    ports:
      - "127.0.0.1:1:2"
    retries: 3
volumes:
  data:
"""
    assert parse_yaml_subset(sample) == {
        "name": "x",
        "services": {
            "a": {
                "image": "repo/img:1.2",
                "command": ["--flag=1", "b"],
                "env": {"KEY": "va#lue", "OTHER": "it's"},
                "ports": ["127.0.0.1:1:2"],
                "retries": 3,
            }
        },
        "volumes": {"data": None},
    }


@pytest.mark.parametrize(
    "bad",
    ["a: &anchor 1", "a: |\n  text", "a:\n  - b: 1", "a: yes", "a:\n\tb: 1", "a: 1\na: 2", "a: [unquoted]"],
)
def test_subset_parser_refuses_what_it_does_not_know(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_yaml_subset(bad)


def test_subset_parser_agrees_with_pyyaml_on_compose_file() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed; the subset parser is used alone")
    text = COMPOSE_FILE.read_text()
    assert parse_yaml_subset(text) == yaml.safe_load(text)


@pytest.mark.compose
def test_docker_compose_config_validates() -> None:
    # `docker compose config` validates against the Compose specification without an engine.
    if not docker_compose_available():
        pytest.skip("the `docker compose` plugin is not installed here")
    for extra in ([], ["--profile", "tools"]):
        done = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), *extra, "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
