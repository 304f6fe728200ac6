"""Lambda packaging and deployment: a zip built from ``lambdas/<name>/`` (plus ``lambdas/__init__.py``) and
the packages its requirements.txt pins, copied from this project's virtualenv so the function runs exactly
what the tests ran. The zip is byte-for-byte reproducible (fixed timestamps, sorted entries): deploying
unchanged code is a no-op, compared by CodeSha256."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import io
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from services.settings import REPO_ROOT

LAMBDAS = REPO_ROOT / "lambdas"
RUNTIME = "python3.11"
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([A-Za-z0-9_.\-+]+)\s*(?:#.*)?$")


class DeployError(RuntimeError):
    """Packaging or deployment failed; the message says what to fix."""


@dataclass(frozen=True)
class Package:
    name: str
    zip_bytes: bytes

    @property
    def sha256(self) -> str:
        """As Lambda reports CodeSha256: base64 of the SHA-256 digest."""
        return base64.b64encode(hashlib.sha256(self.zip_bytes).digest()).decode()

    @property
    def handler(self) -> str:
        return f"lambdas.{self.name}.handler.lambda_handler"


def _pins(folder: Path) -> list[tuple[str, str]]:
    path = folder / "requirements.txt"
    if not path.exists():
        return []
    pins = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _PIN.match(line)
        if not match:
            raise DeployError(f"{path}: {line.strip()!r} is not an exact pin (name==version)")
        pins.append((match.group(1), match.group(2)))
    return pins


def _vendored_files(package: str, version: str) -> list[tuple[str, Path]]:
    try:
        installed = metadata.version(package)
    except metadata.PackageNotFoundError:
        raise DeployError(
            f"{package}=={version} is needed in the Lambda zip but not installed here"
        ) from None
    if installed != version:
        raise DeployError(f"the Lambda pins {package}=={version} but this virtualenv has {installed}")
    files = []
    for entry in metadata.files(package) or []:
        text = str(entry)
        if (
            "__pycache__" in text
            or text.startswith("..")
            or (".dist-info/" in text and not text.endswith("METADATA"))
        ):
            continue
        files.append((text, Path(str(entry.locate()))))
    return files


def build(name: str) -> Package:
    folder = LAMBDAS / name
    if not (folder / "handler.py").exists():
        raise DeployError(f"no Lambda at {folder} (expected handler.py with lambda_handler)")
    entries: list[tuple[str, Path]] = [("lambdas/__init__.py", LAMBDAS / "__init__.py")]
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            entries.append((path.relative_to(REPO_ROOT).as_posix(), path))
    for package, version in _pins(folder):
        entries += _vendored_files(package, version)
    return Package(name, _zip(entries))


def build_layer(packages: list[str], cache_dir: Path) -> bytes:
    """A layer zip (``python/…``) of installed packages, cached by their versions. For emulators whose
    Python runtime lacks what AWS's has (MiniStack's runs without boto3); AWS itself needs none."""
    versions = [f"{p}-{metadata.version(p)}" for p in packages]
    cached = cache_dir / ("layer-" + "-".join(versions) + ".zip")
    if cached.exists():
        return cached.read_bytes()
    entries = [
        (f"python/{arc}", path) for p in packages for arc, path in _vendored_files(p, metadata.version(p))
    ]
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(_zip(entries))
    return cached.read_bytes()


def _zip(entries: list[tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for arcname, path in sorted(entries):
            info = zipfile.ZipInfo(arcname, _FIXED_TIME)
            info.external_attr = (0o755 if path.suffix == ".so" else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def deploy(
    client: Any,
    package: Package,
    function_name: str,
    role_arn: str,
    environment: dict[str, str] | None = None,
    memory_mb: int = 256,
    timeout_s: int = 300,
    layers: list[str] | None = None,
) -> str:
    """Create or update the function; returns its ARN once it is Active and its last update Successful."""
    config: dict[str, Any] = {
        "Role": role_arn,
        "Handler": package.handler,
        "Runtime": RUNTIME,
        "Timeout": timeout_s,
        "MemorySize": memory_mb,
        "Environment": {"Variables": environment or {}},
        "Layers": layers or [],
    }
    try:
        current = client.get_function_configuration(FunctionName=function_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        created = client.create_function(
            FunctionName=function_name, Code={"ZipFile": package.zip_bytes}, **config
        )
        return _wait_ready(client, function_name, str(created["FunctionArn"]))
    if current.get("CodeSha256") != package.sha256:
        client.update_function_code(FunctionName=function_name, ZipFile=package.zip_bytes)
        _wait_ready(client, function_name, str(current["FunctionArn"]))
    wanted_env = config["Environment"]["Variables"]
    if (
        current.get("Handler") != package.handler
        or current.get("Environment", {}).get("Variables", {}) != wanted_env
        or current.get("MemorySize") != memory_mb
        or current.get("Timeout") != timeout_s
        or [layer["Arn"] for layer in current.get("Layers", [])] != (layers or [])
    ):
        client.update_function_configuration(FunctionName=function_name, **config)
    return _wait_ready(client, function_name, str(current["FunctionArn"]))


def _wait_ready(client: Any, function_name: str, arn: str, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        cfg = client.get_function_configuration(FunctionName=function_name)
        state, update = cfg.get("State", "Active"), cfg.get("LastUpdateStatus", "Successful")
        if state == "Active" and update in ("Successful", None):
            return arn
        if state == "Failed" or update == "Failed":
            reason = cfg.get("StateReason") or cfg.get("LastUpdateStatusReason") or "no reason given"
            raise DeployError(f"Lambda {function_name} failed to deploy: {reason}")
        if time.monotonic() > deadline:
            raise DeployError(
                f"Lambda {function_name} not Active after {timeout_s:.0f} s (state {state}, {update})"
            )
        time.sleep(0.2)
