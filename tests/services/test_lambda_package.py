"""The one Lambda packager: reproducible zips of ``lambdas/<name>/`` with their exact pins, only wheels that
run on Lambda python3.11 x86_64, the boto3 layer, and idempotent deploys on MiniStack."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from services import aws
from services.lambda_package import (
    BOTO3_LAYER,
    DeployError,
    Package,
    build,
    build_layer,
    deploy,
    ensure_layer,
    runs_on_lambda,
)
from services.settings import Settings

ROLE = "arn:aws:iam::000000000000:role/bdml-test-lambda"  # an emulator placeholder


def _names(package: Package) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(package.zip_bytes)).namelist()


# --- unit: the package ------------------------------------------------------------------------------
@pytest.mark.unit
def test_package_digests_handler_and_content_addressed_key() -> None:
    package = Package("firehose_transform", b"zip bytes")
    digest = hashlib.sha256(b"zip bytes")
    assert package.sha256 == base64.b64encode(digest.digest()).decode()  # as Lambda's CodeSha256
    assert package.hexdigest == digest.hexdigest()
    assert package.handler == "lambdas.firehose_transform.handler.lambda_handler"
    assert package.s3_key() == f"lambdas/firehose_transform-{digest.hexdigest()[:16]}.zip"
    assert package.s3_key("layers/").startswith("layers/firehose_transform-")
    assert Package("firehose_transform", b"other").s3_key() != package.s3_key()


@pytest.mark.unit
def test_the_analytics_zip_is_reproducible_and_vendors_exactly_its_pins() -> None:
    first, second = build("stream_analytics"), build("stream_analytics")
    assert first.zip_bytes == second.zip_bytes and first.sha256 == second.sha256  # same input, same bytes
    names = _names(first)
    assert names == sorted(names)
    assert {"lambdas/__init__.py", "lambdas/stream_analytics/handler.py"} <= set(names)
    assert any(n.startswith("lambdas/stream_analytics/sql/") for n in names)
    assert (
        "duckdb-1.5.5.dist-info/METADATA" in names
    )  # the pin, copied from this virtualenv (passes the check)
    assert not any(
        n.startswith("boto3/") or n.startswith("botocore/") for n in names
    )  # not pinned: not vendored
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.endswith(("RECORD", "WHEEL")) for n in names)  # only METADATA of each dist-info
    infos = zipfile.ZipFile(io.BytesIO(first.zip_bytes)).infolist()
    assert {i.date_time for i in infos} == {(2020, 1, 1, 0, 0, 0)}  # no build time in the bytes


@pytest.mark.unit
def test_a_standard_library_function_vendors_nothing() -> None:
    names = _names(build("firehose_transform"))
    assert names and all(n.startswith("lambdas/") for n in names)


@pytest.mark.unit
def test_the_image_classify_zip_is_its_folder_alone_and_imports_from_the_zip(tmp_path: Path) -> None:
    package = build("image_classify")
    assert _names(package) == [
        "lambdas/__init__.py",
        "lambdas/image_classify/__init__.py",
        "lambdas/image_classify/handler.py",
    ]
    archive = tmp_path / "function.zip"
    archive.write_bytes(package.zip_bytes)
    module, _, function = package.handler.rpartition(".")
    # A fresh interpreter with the zip first on sys.path, as Lambda puts /var/task: the handler must
    # import from there, not from this checkout.
    code = (
        f"import sys; sys.path.insert(0, {str(archive)!r}); import importlib; "
        f"m = importlib.import_module({module!r}); "
        f"assert m.__file__.startswith({str(archive)!r}), m.__file__; "
        f"assert callable(getattr(m, {function!r}))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


@pytest.mark.unit
def test_a_missing_function_or_an_inexact_pin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services import lambda_package

    with pytest.raises(DeployError, match="no Lambda at"):
        build("no_such_function")
    folder = tmp_path / "lambdas" / "f"
    folder.mkdir(parents=True)
    (tmp_path / "lambdas" / "__init__.py").write_text("")
    (folder / "handler.py").write_text("def lambda_handler(event, context):\n    return event\n")
    monkeypatch.setattr(lambda_package, "LAMBDAS", tmp_path / "lambdas")
    (folder / "requirements.txt").write_text("duckdb>=1\n")
    with pytest.raises(DeployError, match="not an exact pin"):
        build("f")
    (folder / "requirements.txt").write_text("duckdb==0.0.1\n")
    with pytest.raises(DeployError, match=r"pins duckdb==0\.0\.1 but this virtualenv has 1\.5\.5"):
        build("f")


# --- unit: the platform check -----------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    ("tag", "runs"),
    [
        ("py3-none-any", True),
        ("py2.py3-none-any", True),
        ("py311-none-any", True),
        ("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", True),
        ("cp311-cp311-manylinux_2_26_x86_64", True),
        ("cp38-abi3-manylinux2014_x86_64", True),
        ("cp311-abi3-manylinux_2_17_x86_64", True),
        ("py312-none-any", False),
        ("cp312-cp312-manylinux2014_x86_64", False),
        ("cp312-abi3-manylinux2014_x86_64", False),
        ("cp311-cp311-manylinux_2_28_x86_64", False),  # python3.11 is Amazon Linux 2: glibc 2.26
        ("cp311-cp311-manylinux2014_aarch64", False),
        ("cp311-cp311-musllinux_1_2_x86_64", False),
        ("cp311-cp311-macosx_11_0_arm64", False),
        ("cp311-cp311-linux_x86_64", False),  # built here from source: no portability promise
        ("cp311-cp311-win_amd64", False),
    ],
)
def test_wheel_tags_that_run_on_lambda_python311_x86_64(tag: str, runs: bool) -> None:
    assert runs_on_lambda(tag) is runs


def _fake_distribution(root: Path, tags: list[str] | None) -> None:
    """An installed distribution ``fakewheel`` 1.0 whose WHEEL carries ``tags`` (no WHEEL file for None)."""
    (root / "fakewheel").mkdir()
    (root / "fakewheel" / "__init__.py").write_text("")
    info = root / "fakewheel-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakewheel\nVersion: 1.0\n")
    if tags is not None:
        (info / "WHEEL").write_text(
            "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n" + "".join(f"Tag: {t}\n" for t in tags)
        )
    (info / "RECORD").write_text(
        "fakewheel/__init__.py,,\nfakewheel-1.0.dist-info/METADATA,,\nfakewheel-1.0.dist-info/RECORD,,\n"
    )


@pytest.fixture
def pinning_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A function ``f`` pinning ``fakewheel==1.0``, found on sys.path under ``site``."""
    from services import lambda_package

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    folder = tmp_path / "lambdas" / "f"
    folder.mkdir(parents=True)
    (tmp_path / "lambdas" / "__init__.py").write_text("")
    (folder / "handler.py").write_text("def lambda_handler(event, context):\n    return event\n")
    (folder / "requirements.txt").write_text("fakewheel==1.0\n")
    monkeypatch.setattr(lambda_package, "LAMBDAS", tmp_path / "lambdas")
    yield site


@pytest.mark.unit
def test_a_wheel_for_another_platform_is_refused_with_its_tags(pinning_function: Path) -> None:
    _fake_distribution(
        pinning_function, ["cp311-cp311-macosx_11_0_arm64", "cp311-cp311-manylinux_2_17_aarch64"]
    )
    with pytest.raises(DeployError) as refused:
        build("f")
    message = str(refused.value)
    assert "fakewheel 1.0" in message
    assert "cp311-cp311-macosx_11_0_arm64, cp311-cp311-manylinux_2_17_aarch64" in message
    assert "Linux x86_64 virtualenv" in message and "--platform manylinux2014_x86_64" in message  # what to do


@pytest.mark.unit
def test_a_distribution_without_wheel_tags_is_refused(pinning_function: Path) -> None:
    _fake_distribution(pinning_function, None)
    with pytest.raises(DeployError, match=r"fakewheel 1\.0 has no WHEEL file"):
        build("f")


@pytest.mark.unit
def test_a_pure_python_wheel_is_vendored(pinning_function: Path) -> None:
    _fake_distribution(pinning_function, ["py3-none-any"])
    assert {"fakewheel/__init__.py", "fakewheel-1.0.dist-info/METADATA"} <= set(_names(build("f")))


# --- unit: the layer --------------------------------------------------------------------------------
@pytest.mark.unit
def test_the_boto3_layer_is_reproducible_cached_and_under_python(tmp_path: Path) -> None:
    layer = build_layer(BOTO3_LAYER, tmp_path / "a")
    assert layer.name == "boto3-layer"
    assert build_layer(BOTO3_LAYER, tmp_path / "b").zip_bytes == layer.zip_bytes  # built again: same bytes
    (cached,) = (tmp_path / "a").iterdir()
    assert cached.suffix == ".zip" and cached.read_bytes() == layer.zip_bytes
    assert build_layer(BOTO3_LAYER, tmp_path / "a") == layer  # from the cache
    names = set(_names(layer))
    assert all(n.startswith("python/") for n in names)
    packages = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3")
    assert {f"python/{p}/__init__.py" for p in packages} | {"python/six.py"} <= names


@pytest.mark.unit
def test_a_layer_of_something_not_installed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="not installed here"):
        build_layer(["no-such-distribution-bdml"], tmp_path)


# --- integration: deploying on MiniStack ------------------------------------------------------------
@pytest.fixture
def function_name(stack: Settings) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:10]}-package"
    yield name
    with contextlib.suppress(ClientError):
        aws.client("lambda", stack).delete_function(FunctionName=name)


@pytest.mark.integration
def test_deploying_unchanged_code_changes_nothing_and_a_change_is_deployed(
    stack: Settings, function_name: str
) -> None:
    lam = aws.client("lambda", stack)
    package = build("firehose_transform")
    arn = deploy(lam, package, function_name, ROLE, {"A": "1"}, memory_mb=128, timeout_s=60)
    first = lam.get_function_configuration(FunctionName=function_name)
    assert arn == first["FunctionArn"] and first["CodeSha256"] == package.sha256
    assert first["Handler"] == package.handler and first["State"] == "Active"

    assert deploy(lam, package, function_name, ROLE, {"A": "1"}, memory_mb=128, timeout_s=60) == arn
    again = lam.get_function_configuration(FunctionName=function_name)
    assert again["LastModified"] == first["LastModified"]  # same bytes, same settings: no update

    deploy(lam, package, function_name, ROLE, {"A": "2"}, memory_mb=128, timeout_s=60)
    changed = lam.get_function_configuration(FunctionName=function_name)
    assert changed["Environment"]["Variables"] == {"A": "2"} and changed["CodeSha256"] == package.sha256


@pytest.mark.integration
def test_ensure_layer_publishes_once_per_content(stack: Settings, tmp_path: Path) -> None:
    lam, name = aws.client("lambda", stack), f"t{uuid.uuid4().hex[:10]}-layer"
    small = Package("small-layer", build("firehose_transform").zip_bytes)
    try:
        arn = ensure_layer(lam, name, small)
        assert ensure_layer(lam, name, small) == arn  # found by its description: nothing published
        other = ensure_layer(lam, name, Package("small-layer", build("image_classify").zip_bytes))
        assert other != arn
        versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
        assert len(versions) == 2
    finally:
        for version in lam.list_layer_versions(LayerName=name).get("LayerVersions", []):
            lam.delete_layer_version(LayerName=name, VersionNumber=version["Version"])
