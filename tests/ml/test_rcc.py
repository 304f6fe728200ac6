"""The Qt .rcc reader on a resource file built here by the format's rules (GCompris packs its images so)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from ml.dataset.rcc import RccError, read_rcc

pytestmark = pytest.mark.unit


def _build_rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A version-2 rcc with one directory 'img' holding ``files`` (name → (bytes, zlib-compressed))."""
    names, data = b"", b""
    name_offsets: dict[str, int] = {}
    for name in ["img", *files]:
        name_offsets[name] = len(names)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
    nodes = [struct.pack(">IHII", 0, 0x02, 1, 1) + b"\0" * 8]  # root: one child at index 1
    nodes.append(struct.pack(">IHII", name_offsets["img"], 0x02, len(files), 2) + b"\0" * 8)
    for name, (payload, compress) in files.items():
        stored = struct.pack(">I", len(payload)) + zlib.compress(payload) if compress else payload
        nodes.append(
            struct.pack(">IHHHI", name_offsets[name], 0x01 if compress else 0, 0, 0, len(data)) + b"\0" * 8
        )
        data += struct.pack(">I", len(stored)) + stored
    tree = b"".join(nodes)
    header = 20
    return (
        b"qres"
        + struct.pack(">IIII", 2, header, header + len(tree), header + len(tree) + len(data))
        + tree
        + data
        + names
    )


def test_reads_plain_and_zlib_entries(tmp_path: Path) -> None:
    path = tmp_path / "x.rcc"
    path.write_bytes(
        _build_rcc({"a.png": (b"\x89PNG plain", False), "penguin.webp": (b"RIFF" + b"z" * 500, True)})
    )
    entries = {e.path: e.data for e in read_rcc(path)}
    assert entries == {"img/a.png": b"\x89PNG plain", "img/penguin.webp": b"RIFF" + b"z" * 500}


def test_rejects_a_file_that_is_not_rcc(tmp_path: Path) -> None:
    path = tmp_path / "y.rcc"
    path.write_bytes(b"PK\x03\x04 not qt")
    with pytest.raises(RccError, match="qres"):
        list(read_rcc(path))
