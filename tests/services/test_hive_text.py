"""The exact reader of raw text objects (what Hive's one-column TEXTFILE table gives for their bytes), and
the upload's line counter, which must count the same lines: rows in = loaded + rejected."""

from __future__ import annotations

import io
import random

import pytest

from services.hql.hive_text import hive_lines
from services.reconcile import LineCounter

pytestmark = pytest.mark.unit

# Bytes that make lines hard: every line end, Hive's field delimiter, a byte that is not UTF-8 (alone
# and inside a cut multi-byte character), valid non-ASCII text, a byte order mark anywhere, NUL.
PIECES = [
    *(b"a", b"|", b"\n", b"\r", b"\r\n", b"\x01"),
    *(b"\xe9", b"\xe2\x82", b"\xc3\xa9", b"\xef\xbb\xbf", b"\x00"),
]


def _hive(data: bytes) -> list[str]:
    """What Hive gives, line by line: Hadoop's line ends (bytes.splitlines splits exactly on \\n, \\r\\n
    and \\r), the first line's byte order mark dropped, text up to the first \\x01, U+FFFD for bad bytes."""
    lines = data.splitlines()
    if lines:
        lines[0] = lines[0].removeprefix(b"\xef\xbb\xbf")
    return [line.partition(b"\x01")[0].decode("utf-8", "replace") for line in lines]


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_lines_match_hive_however_the_bytes_are_chunked() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        size = rng.randint(1, 9)
        got = [line for batch in hive_lines(_chunks(data, size)) for line in batch]
        assert got == _hive(data), (data, size)


def test_the_counter_counts_the_lines_the_reader_gives() -> None:
    rng = random.Random(11)
    for _ in range(20_000):
        data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        size = rng.randint(1, 9)
        counter = LineCounter(io.BytesIO(data))
        while counter.read(size):
            pass
        assert counter.lines == len(_hive(data)), (data, size)


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"", []),
        (b"\n", [""]),
        (b"a\r\nb\rc\nd", ["a", "b", "c", "d"]),  # CRLF, a lone CR, LF, and a last line without an end
        (b"a\n\r", ["a", ""]),  # a lone CR after a LF ends an empty line
        (b"\xef\xbb\xbfa|b\n\xef\xbb\xbfc", ["a|b", "\ufeffc"]),  # only the file's first line drops a BOM
        (b"a|b\x01c|d\n", ["a|b"]),  # the one column ends at Hive's field delimiter
        (b"CR\xc9DIT|x\n", ["CR\ufffdDIT|x"]),  # a Windows-1252 byte
    ],
)
def test_examples(data: bytes, lines: list[str]) -> None:
    assert [line for batch in hive_lines([data]) for line in batch] == lines
    counter = LineCounter(io.BytesIO(data))
    counter.read()
    assert counter.lines == len(lines)
