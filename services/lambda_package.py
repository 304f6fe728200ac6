"""Lambda packaging and deployment, one way for every function (streaming, ML, the AWS deployer).

A function's zip holds ``lambdas/<name>/`` (plus ``lambdas/__init__.py``) and the packages its
requirements.txt pins, copied from this project's virtualenv so the function runs exactly what the tests
ran; a copied wheel must be one that runs on Lambda's python3.11 x86_64. Zips are byte-for-byte
reproducible (fixed timestamps, sorted entries): unchanged code is a no-op deploy (compared by CodeSha256)
and keeps its content-addressed S3 key."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import io
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from services.settings import REPO_ROOT

LAMBDAS = REPO_ROOT / "lambdas"
RUNTIME = "python3.11"
ARCHITECTURE = "x86_64"
# The python3.11 runtime is Amazon Linux 2 (glibc 2.26): a manylinux wheel needing a newer glibc fails there.
LAMBDA_GLIBC = (2, 26)
# What boto3 needs, by distribution name. AWS's runtime ships boto3; emulators may not (MiniStack runs
# handlers on its own interpreter, without boto3), so functions calling AWS APIs get this as a layer.
BOTO3_LAYER = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six")

_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([A-Za-z0-9_.\-+]+)\s*(?:#.*)?$")
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_x86_64$")
_LEGACY_MANYLINUX = {
    "manylinux1_x86_64": (2, 5),
    "manylinux2010_x86_64": (2, 12),
    "manylinux2014_x86_64": (2, 17),
}
_PY3_MINOR = re.compile(r"^(?:py|cp)3(\d*)$")


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
    def hexdigest(self) -> str:
        return hashlib.sha256(self.zip_bytes).hexdigest()

    @property
    def handler(self) -> str:
        return f"lambdas.{self.name}.handler.lambda_handler"

    def s3_key(self, prefix: str = "lambdas/") -> str:
        """Content-addressed, so changed code gets a new key and CloudFormation sees the change."""
        return f"{prefix}{self.name}-{self.hexdigest[:16]}.zip"


# --- platform: only wheels that run on Lambda python3.11 x86_64 are copied ---------------------------
def _runs_on_lambda(interpreter: str, abi: str, platform: str) -> bool:
    if platform != "any":
        manylinux = _MANYLINUX.match(platform)
        glibc = (int(manylinux[1]), int(manylinux[2])) if manylinux else _LEGACY_MANYLINUX.get(platform)
        if glibc is None or glibc > LAMBDA_GLIBC:
            return False
    version = _PY3_MINOR.match(interpreter)
    if not version:
        return False
    minor = int(version[1]) if version[1] else None
    if abi == "none":  # pure Python for py3 / py3X (X ≤ 11), or cp311 without an ABI
        return (interpreter.startswith("py") and (minor is None or minor <= 11)) or interpreter == "cp311"
    if abi == "abi3":  # the stable ABI of CPython 3.X, for every later CPython
        return interpreter.startswith("cp") and minor is not None and minor <= 11
    return interpreter == "cp311" and abi == "cp311"


def runs_on_lambda(tag: str) -> bool:
    """Whether a wheel tag (compressed sets like ``py2.py3-none-any`` included) fits python3.11 x86_64."""
    parts = tag.strip().split("-")
    if len(parts) != 3:
        return False
    return any(
        _runs_on_lambda(i, a, p)
        for i in parts[0].split(".")
        for a in parts[1].split(".")
        for p in parts[2].split(".")
    )


def _check_platform(dist: metadata.Distribution) -> None:
    name, version = dist.metadata["Name"], dist.version
    wheel = dist.read_text("WHEEL")
    if wheel is None:
        raise DeployError(
            f"{name} {version} has no WHEEL file (installed from source?), so nothing says it runs on Lambda "
            f"{RUNTIME} {ARCHITECTURE}: reinstall it from a wheel (pip install --only-binary=:all: "
            f"{name}=={version})"
        )
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    if not any(runs_on_lambda(tag) for tag in tags):
        glibc = ".".join(map(str, LAMBDA_GLIBC))
        raise DeployError(
            f"{name} {version} is installed here as a wheel for {', '.join(tags) or 'no platform'}, which "
            f"does not run on Lambda {RUNTIME} {ARCHITECTURE} (needs pure Python, or cp311/abi3 manylinux "
            f"x86_64 with glibc ≤ {glibc}). The zip copies this virtualenv's files: build it from a Linux "
            f"x86_64 virtualenv with such a wheel (pip install --only-binary=:all: "
            f"--platform manylinux2014_x86_64 --python-version 3.11 {name}=={version}), or drop the pin"
        )


# --- building ---------------------------------------------------------------------------------------
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


def _distribution(package: str, pinned: str | None = None) -> metadata.Distribution:
    """The installed distribution, checked: the pinned version, a wheel that runs on Lambda."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        wanted = f"{package}=={pinned}" if pinned else package
        raise DeployError(f"{wanted} is needed in a Lambda zip but not installed here") from None
    if pinned and dist.version != pinned:
        raise DeployError(f"the Lambda pins {package}=={pinned} but this virtualenv has {dist.version}")
    _check_platform(dist)
    return dist


def _vendored_files(dist: metadata.Distribution) -> list[tuple[str, Path]]:
    files = []
    for entry in dist.files or []:
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
    """The zip of ``lambdas/<name>/``: same sources and installed pins → same bytes."""
    folder = LAMBDAS / name
    if not (folder / "handler.py").exists():
        raise DeployError(f"no Lambda at {folder} (expected handler.py with lambda_handler)")
    entries: list[tuple[str, Path]] = [("lambdas/__init__.py", LAMBDAS / "__init__.py")]
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            entries.append((path.relative_to(LAMBDAS.parent).as_posix(), path))
    for package, version in _pins(folder):
        entries += _vendored_files(_distribution(package, version))
    return Package(name, _zip(entries))


def build_layer(packages: Sequence[str], cache_dir: Path) -> Package:
    """A layer zip (``python/…``) of installed distributions, cached by their versions (building it reads
    every file of botocore)."""
    if not packages:
        raise DeployError("a layer needs at least one distribution")
    dists = [_distribution(p) for p in packages]
    name = f"{packages[0]}-layer"
    versions = "-".join(f"{p}-{d.version}" for p, d in zip(packages, dists, strict=True))
    cached = cache_dir / f"layer-{versions}.zip"
    if cached.exists():
        return Package(name, cached.read_bytes())
    entries = [(f"python/{arc}", path) for d in dists for arc, path in _vendored_files(d)]
    data = _zip(entries)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".partial", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, cached)  # atomic: a concurrent or killed build never leaves half a zip
    return Package(name, data)


def _zip(entries: list[tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for arcname, path in sorted(entries):
            info = zipfile.ZipInfo(arcname, _FIXED_TIME)
            info.external_attr = (0o755 if path.suffix == ".so" else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


# --- deploying --------------------------------------------------------------------------------------
def ensure_layer(client: Any, layer_name: str, layer: Package) -> str:
    """The LayerVersionArn of a version holding exactly ``layer`` (found by its description, which carries
    the zip's digest), published when none does: redeploys publish nothing new."""
    description = f"{layer.name} {layer.hexdigest[:16]}"
    try:
        for page in client.get_paginator("list_layer_versions").paginate(LayerName=layer_name):
            for version in page.get("LayerVersions", []):
                if version.get("Description") == description:
                    return str(version["LayerVersionArn"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    published = client.publish_layer_version(
        LayerName=layer_name,
        Description=description,
        Content={"ZipFile": layer.zip_bytes},
        CompatibleRuntimes=[RUNTIME],
        CompatibleArchitectures=[ARCHITECTURE],
    )
    return str(published["LayerVersionArn"])


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
            FunctionName=function_name,
            Code={"ZipFile": package.zip_bytes},
            Architectures=[ARCHITECTURE],
            **config,
        )
        return _wait_ready(client, function_name, str(created["FunctionArn"]))
    if current.get("CodeSha256") != package.sha256:
        client.update_function_code(FunctionName=function_name, ZipFile=package.zip_bytes)
        _wait_ready(client, function_name, str(current["FunctionArn"]))
    wanted_env = config["Environment"]["Variables"]
    if (
        current.get("Handler") != package.handler
        or current.get("Runtime") != RUNTIME
        or current.get("Role") != role_arn
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
