"""Helpers for the compose-profile tests: is a Docker engine / the compose plugin here, where are the files,
and a YAML loader that works without PyYAML (the project does not depend on it)."""

from __future__ import annotations

import functools
import importlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
COMPOSE_PROFILE = REPO_ROOT / "services" / "profiles" / "compose.toml"
HIVE_SITE = REPO_ROOT / "docker" / "hive" / "hive-site.xml"

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
    """PyYAML when installed, else the strict subset parser below (never a silent misparse)."""
    try:
        import yaml
    except ImportError:
        return parse_yaml_subset(text)
    return yaml.safe_load(text)


# --- a strict parser for the YAML subset compose.yaml keeps to -------------------------------------------
# Block mappings, block lists of scalars, JSON-compatible flow collections, quoted or plain scalars, comments.
# Anything else (anchors, tags, multi-line strings, lists of mappings, YAML 1.1 yes/no booleans) raises, so
# a file that drifts outside the subset fails loudly instead of being read wrongly.

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_AMBIGUOUS = {"yes", "no", "on", "off", "y", "n"}


@dataclass(frozen=True)
class _Line:
    indent: int
    text: str
    number: int


class YamlSubsetError(ValueError):
    pass


def parse_yaml_subset(text: str) -> Any:
    lines: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = _strip_comment(raw).rstrip()
        if not content.strip():
            continue
        stripped = content.lstrip(" ")
        if stripped.startswith("\t"):
            raise YamlSubsetError(f"line {number}: tab indentation")
        if stripped in ("---", "..."):
            raise YamlSubsetError(f"line {number}: multiple documents are outside the subset")
        lines.append(_Line(len(content) - len(stripped), stripped, number))
    if not lines:
        return None
    value, pos = _block(lines, 0, lines[0].indent)
    if pos != len(lines):
        raise YamlSubsetError(f"line {lines[pos].number}: unexpected indentation")
    return value


def _strip_comment(line: str) -> str:
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and (i == 0 or line[i - 1] in " [{,:-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
        i += 1
    return line


def _block(lines: list[_Line], pos: int, indent: int) -> tuple[Any, int]:
    if lines[pos].text == "-" or lines[pos].text.startswith("- "):
        return _sequence(lines, pos, indent)
    return _mapping(lines, pos, indent)


def _sequence(lines: list[_Line], pos: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while pos < len(lines) and lines[pos].indent == indent and lines[pos].text.startswith("- "):
        item = lines[pos].text[2:].strip()
        if _split_key(item) is not None:
            raise YamlSubsetError(f"line {lines[pos].number}: lists of mappings are outside the subset")
        items.append(_scalar(item, lines[pos].number))
        pos += 1
    return items, pos


def _mapping(lines: list[_Line], pos: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while pos < len(lines) and lines[pos].indent == indent:
        line = lines[pos]
        split = _split_key(line.text)
        if split is None:
            raise YamlSubsetError(f"line {line.number}: expected 'key: value', got {line.text!r}")
        raw_key, rest = split
        key = _scalar(raw_key, line.number)
        if not isinstance(key, str):
            raise YamlSubsetError(f"line {line.number}: only string keys are in the subset")
        if key in result:
            raise YamlSubsetError(f"line {line.number}: duplicate key {key!r}")
        pos += 1
        if rest:
            result[key] = _scalar(rest, line.number)
        elif pos < len(lines) and lines[pos].indent > indent:
            result[key], pos = _block(lines, pos, lines[pos].indent)
        elif pos < len(lines) and lines[pos].indent == indent and lines[pos].text.startswith("- "):
            result[key], pos = _sequence(lines, pos, indent)  # YAML allows a list level with its key
        else:
            result[key] = None
    if pos < len(lines) and lines[pos].indent > indent:
        raise YamlSubsetError(f"line {lines[pos].number}: unexpected indentation")
    return result, pos


def _split_key(text: str) -> tuple[str, str] | None:
    """Split ``key: rest`` at the first ': ' (or a trailing ':') outside quotes; None if not a mapping."""
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and i == 0:
            quote = ch
        elif ch in "[{" and i == 0:
            return None
        elif ch == ":" and (i + 1 == len(text) or text[i + 1] == " "):
            return text[:i].strip(), text[i + 1 :].strip()
    return None


def _scalar(text: str, number: int) -> Any:
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise YamlSubsetError(f"line {number}: double-quoted scalar outside the subset: {text}") from exc
        return value
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise YamlSubsetError(f"line {number}: unterminated single-quoted scalar")
        return text[1:-1].replace("''", "'")
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise YamlSubsetError(f"line {number}: flow collections must be JSON-compatible: {text}") from exc
    if text[0] in "&*!|>%@`?":
        raise YamlSubsetError(f"line {number}: {text[0]!r} is outside the subset")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~"):
        return None
    if lowered in _AMBIGUOUS:
        raise YamlSubsetError(f"line {number}: quote {text!r}: YAML 1.1 reads it as a boolean")
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text
