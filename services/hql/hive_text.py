"""The lines of a raw text object exactly as Hive reads a one-column TEXTFILE table over it.

DuckDB's CSV reader is fast but strict: it refuses a file with a byte that is not UTF-8, a carriage
return that ends no line, or a ``\\x01`` (the raw tables' field delimiter). Hive reads such a file and
so must the pipeline; this is the slow, exact path the DuckDB engine takes for those files only:

- a line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (Hadoop's LineRecordReader);
- each byte that is not UTF-8 becomes U+FFFD (Hadoop's Text decoding);
- the one column holds the text before the line's first ``\\x01``: Hive splits the line on the DDL's
  field delimiter and drops the fields the table has no column for;
- a UTF-8 byte order mark opening the file is dropped, as the engines' fast readers do.

Spark with Hive support reads the same bytes the same way, so both engines number and reject alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

BOM = b"\xef\xbb\xbf"
FIELD_DELIMITER = b"\x01"


def hive_lines(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """The lines of the bytes ``chunks`` hold, in order, one list per chunk that completes any."""
    rest = b""
    first = True
    for chunk in chunks:
        buffer = rest + chunk
        # Lines are complete up to the last end that is surely whole: a \r as the last byte may be
        # the first half of a \r\n that the next chunk finishes.
        end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r", 0, len(buffer) - 1))
        if end < 0:
            rest = buffer
            continue
        rest = buffer[end + 1 :]
        yield _lines(buffer[: end + 1], first)
        first = False
    if rest:
        yield _lines(rest, first)


def _lines(block: bytes, first: bool) -> list[str]:
    """``block``'s lines (whole ones; the last may lack its end). Decoding the block at once gives what
    decoding line by line would: line ends are ASCII, so no invalid sequence spans one."""
    text = block.decode("utf-8", "replace")
    if first:
        text = text.removeprefix(BOM.decode())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # the end of the last line, not an empty line after it
    if FIELD_DELIMITER in block:
        delimiter = FIELD_DELIMITER.decode()
        lines = [line.partition(delimiter)[0] for line in lines]
    return lines
