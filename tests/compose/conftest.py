"""Helpers for the compose-profile tests: is a Docker engine / the compose plugin here, where the files are,
and how compose reads them."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import unquote, urlsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
COMPOSE_PROFILE = REPO_ROOT / "services" / "profiles" / "compose.toml"
HIVE_SITE = REPO_ROOT / "docker" / "hive" / "hive-site.xml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / ".env.example"

NO_ENGINE_REASON = (
    "no Docker engine answers here (the docker CLI is only a client); run on a machine with Docker"
)


@functools.cache
def docker_engine_available() -> bool:
    """True when a Docker engine answers a ping. A docker CLI alone (as on the dev machines) is not enough:
    testcontainers and `docker compose up` need the daemon."""
    try:
        # import_module, not `import docker`: type checkers run from the repo root see our docker/ folder.
        client = importlib.import_module("docker").from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, permission denied, daemon down: all mean "cannot run containers"
        return False


@functools.cache
def docker_compose_available() -> bool:
    """True when the `docker compose` plugin is installed (it validates files without an engine)."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass(frozen=True)
class Dsn:
    """The parts of a warehouse DSN (``mysql://user:pw@host:port/db``, ``postgresql://…``)."""

    scheme: str
    user: str
    password: str | None
    host: str
    port: int
    database: str


def parse_dsn(dsn: str) -> Dsn:
    parts = urlsplit(dsn)
    if not (parts.scheme and parts.hostname and parts.username and parts.port and parts.path.strip("/")):
        raise ValueError(f"DSN {dsn!r} needs scheme://user[:password]@host:port/database")
    return Dsn(
        scheme=parts.scheme,
        user=unquote(parts.username),
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=parts.port,
        database=parts.path.strip("/"),
    )


def load_yaml(text: str) -> Any:
    """compose.yaml as Compose reads it (anchors and ``<<`` merges resolved), interpolation left as text."""
    return yaml.safe_load(text)


def load_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a .env file (comments and blank lines skipped), as compose reads them."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def compose_env_file() -> Path:
    """The developer's .env when there is one, else the checked-in example with the same names."""
    env = REPO_ROOT / ".env"
    return env if env.is_file() else ENV_EXAMPLE


def compose_command(*args: str, project: str | None = None) -> list[str]:
    base = ["docker", "compose", "--env-file", str(compose_env_file()), "-f", str(COMPOSE_FILE)]
    return [*base, *(["-p", project] if project else []), *args]


# --- a compose stack for the testcontainers suites ---------------------------------------------------------

# The host-port variables of compose.yaml: each suite gets free ports, so it runs beside the embedded stack.
PORT_VARS = {
    "localstack": ("BDML_LOCALSTACK_PORT",),
    "mysql": ("BDML_MYSQL_PORT",),
    "postgres": ("BDML_POSTGRES_PORT",),
    "hive": ("BDML_HIVE_PORT", "BDML_HIVE_UI_PORT"),
    "model-server": ("BDML_MODEL_SERVER_PORT",),
    "webapp": ("BDML_WEB_PORT",),
}
API_ID = "bdmlclassify"  # init's --api-id in compose.yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Stack:
    """A running compose project: its host ports, and the BDML_* environment that points the host-side CLI
    at it (compose.toml's endpoints with these ports)."""

    project: str
    ports: dict[str, int]
    password: str

    def port(self, var: str) -> int:
        return self.ports[var]

    def env(self, **extra: str) -> dict[str, str]:
        p, pw = self.ports, self.password
        aws = f"http://127.0.0.1:{p['BDML_LOCALSTACK_PORT']}"
        return {
            **os.environ,
            "BDML_PROFILE": "compose",
            "BDML_AWS__ENDPOINT_URL": aws,
            "BDML_MYSQL__DSN": f"mysql://root:{pw}@127.0.0.1:{p['BDML_MYSQL_PORT']}/bdml",
            "BDML_REDSHIFT__DSN": f"postgresql://postgres:{pw}@127.0.0.1:{p['BDML_POSTGRES_PORT']}/bdml",
            "BDML_HQL__HIVESERVER2_PORT": str(p["BDML_HIVE_PORT"]),
            "BDML_WEB__API_URL": f"{aws}/_aws/execute-api/{API_ID}/local/classify",
            **extra,
        }

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            compose_command(*args, project=self.project),
            cwd=REPO_ROOT,
            env={**os.environ, **{k: str(v) for k, v in self.ports.items()}, "BDML_NETWORK": self.project},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextlib.contextmanager
def compose_stack(*services: str, build: bool = False) -> Iterator[Stack]:
    """``docker compose up --wait`` of ``services`` (and what they depend on) under a project and network of
    their own, on free host ports; ``down -v`` afterwards, so a developer's `bdml` stack is never touched."""
    from testcontainers.compose import DockerCompose

    project = f"bdml-test-{uuid.uuid4().hex[:8]}"
    ports = {var: free_port() for names in PORT_VARS.values() for var in names}
    env = {**{k: str(v) for k, v in ports.items()}, "COMPOSE_PROJECT_NAME": project, "BDML_NETWORK": project}
    password = load_env_file(compose_env_file())["BDML_DB_PASSWORD"]
    with mock.patch.dict(os.environ, env):  # testcontainers runs `docker compose` with this environment
        stack = DockerCompose(
            REPO_ROOT,
            compose_file_name="compose.yaml",
            env_file=str(compose_env_file()),
            services=list(services),
            build=build,
            wait=True,
        )
        with stack:
            yield Stack(project, ports, password)
