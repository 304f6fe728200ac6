"""Reader for Qt binary resource files (``.rcc``), where GCompris packs its images.

Format (Qt's rcc.cpp): a ``qres`` header with version and the offsets of three blocks — the tree (fixed-size
nodes), the data (length-prefixed blobs) and the names (length, hash, UTF-16BE) — plus, from version 3, global
flags. We only read; nothing here needs Qt."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_DIRECTORY = 0x02
_ZLIB = 0x01
_ZSTD = 0x04


class RccError(ValueError):
    """The file is not a Qt resource file we can read."""


@dataclass(frozen=True)
class RccEntry:
    path: str
    data: bytes


def _name(blob: bytes, names: int, offset: int) -> str:
    (length,) = struct.unpack_from(">H", blob, names + offset)
    start = names + offset + 6  # length (2) + hash (4)
    return blob[start : start + 2 * length].decode("utf-16-be")


def _payload(blob: bytes, data: int, offset: int, flags: int, path: str) -> bytes | None:
    (size,) = struct.unpack_from(">I", blob, data + offset)
    raw = blob[data + offset + 4 : data + offset + 4 + size]
    if flags & _ZSTD:
        return None  # stdlib has no zstd before 3.14; GCompris' images are stored plain or zlib
    if flags & _ZLIB:
        try:
            return zlib.decompress(raw[4:])  # 4-byte big-endian uncompressed size first
        except zlib.error as exc:
            raise RccError(f"{path}: bad zlib data ({exc})") from exc
    return raw


def read_rcc(path: Path) -> Iterator[RccEntry]:
    """Every file inside ``path`` (directories walked from the root), skipping zstd-compressed ones."""
    blob = path.read_bytes()
    if blob[:4] != b"qres":
        raise RccError(f"{path}: not a Qt resource file (no 'qres' magic)")
    version, tree, data, names = struct.unpack_from(">IIII", blob, 4)
    if version not in (1, 2, 3):
        raise RccError(f"{path}: unsupported rcc version {version}")
    node_size = 14 if version == 1 else 22  # version 2 added an 8-byte modification time

    def walk(index: int, prefix: str) -> Iterator[RccEntry]:
        at = tree + index * node_size
        name_offset, flags = struct.unpack_from(">IH", blob, at)
        name = "" if index == 0 else _name(blob, names, name_offset)
        here = f"{prefix}/{name}" if name else prefix
        if flags & _DIRECTORY:
            count, first = struct.unpack_from(">II", blob, at + 6)
            for child in range(first, first + count):
                yield from walk(child, here)
            return
        (data_offset,) = struct.unpack_from(">I", blob, at + 10)
        payload = _payload(blob, data, data_offset, flags, here)
        if payload is not None:
            yield RccEntry(here.lstrip("/"), payload)

    yield from walk(0, "")
