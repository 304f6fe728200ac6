"""Raw lines as the DuckDB engine reads them: every line is a row with its exact line number (blank lines
too, after a UTF-8 byte order mark, with CRLF line ends, and a lone CR ending a line as in Hive), and the
lines DuckDB's own reader refuses (not valid UTF-8, Hive's field delimiter \\x01, a lone CR) become
rejects with their reason instead of failing the HQL step; so do NUL bytes and backslashes, which the
warehouses' loaders cannot take. The upload's line count agrees: rows in = kept + rejected."""

from __future__ import annotations

import io
import os
import uuid

import pytest

from hive import tables
from producers.freddie.layouts import Kind
from services.hql.duckdb_engine import DuckDBEngine
from services.hql.script import load_script
from services.objectstore import ObjectStore, S3Uri
from services.reconcile import LineCounter
from services.settings import S3Settings, Settings

pytestmark = pytest.mark.integration

NOT_UTF8 = "line is not valid UTF-8"
NOT_LOADABLE = "line holds a NUL byte or a backslash"
TOO_FEW = "expected 27 fields, found 1"


def _origination(loan: str, seller: str) -> bytes:
    """A clean article-layout origination line (27 fields)."""
    fields = (
        "759|202412|N|205411|47900|0|1|I|80|43|216000|80|6.500|R|N|FRM|VA|SF|22100|"
        f"{loan}|C|360|1|{seller}|Other sellers||"
    )
    return fields.encode("utf-8")


# (line bytes, what the line must become: None = kept, else the reject reason); CRLF ends between them
LINES: list[tuple[bytes, str | None]] = [
    (b"\xef\xbb\xbf" + _origination("F24Q40000001", "ROCKET MORTGAGE, LLC"), None),  # BOM: stripped
    (_origination("F24Q40000002", "CRÉDIT AGRICOLE, S.A."), None),  # valid UTF-8, non-ASCII
    (b"", TOO_FEW),  # a blank line counts and is rejected
    (_origination("F24Q40000004", "CRÉDIT").replace("É".encode(), b"\xc9"), NOT_UTF8),  # Windows-1252
    (b"garbage", TOO_FEW),
    (b"bad\xe9|line", NOT_UTF8),  # not UTF-8 comes first, before its field count
    # Hive reads a line up to its first \x01 (the raw table's field delimiter): 23 fields and 'BANK'
    (_origination("F24Q40000007", "BANK\x01ONE|x"), "expected 27 fields, found 24"),
    (b"ends at a lone CR", TOO_FEW),  # ...a CR alone ends a line, as Hadoop reads text: see BODY
    (b"next|line", "expected 27 fields, found 2"),
    (_origination("F24Q40000010", "NUL\x00BANK"), NOT_LOADABLE),
    (_origination("F24Q40000011", "BACK\\SLASH BANK"), NOT_LOADABLE),
    (_origination("F24Q40000012", "TRUIST BANK"), None),  # the last line, without a newline
]
BODY = b"\r\n".join(line for line, _ in LINES).replace(b"CR\r\nnext", b"CR\rnext")


@pytest.fixture
def settings(stack: Settings, store: ObjectStore) -> Settings:
    """Own buckets: the raw landing zone holds only the file under test."""
    run_id = uuid.uuid4().hex[:8]
    s3 = S3Settings(
        **{
            **stack.s3.model_dump(),
            "raw_bucket": f"bdml-test-enc-raw-{run_id}",
            "processed_bucket": f"bdml-test-enc-processed-{run_id}",
        }
    )
    own = stack.model_copy(update={"s3": s3})
    for bucket in (s3.raw_bucket, s3.processed_bucket):
        store.ensure_bucket(bucket)
    return own


def test_every_physical_line_is_kept_or_rejected_with_its_number(
    settings: Settings, store: ObjectStore
) -> None:
    assert b"\xc9" in LINES[3][0] and b"\xc3" not in LINES[3][0]  # a Windows-1252 É, not UTF-8
    key = tables.raw_key(Kind.ORIGINATION, "article", "sample_orig_2024.txt")
    store.s3.put_object(Bucket=settings.s3.raw_bucket, Key=key, Body=BODY)
    counter = LineCounter(io.BytesIO(BODY))  # what the upload counts as the file's rows in
    counter.read()
    physical = counter.lines
    assert physical == len(LINES)

    with DuckDBEngine(settings) as engine:
        for path in tables.HQL_FILES:
            engine.run(load_script(path, tables.hql_variables(settings)))
        raw = engine.query("SELECT BLOCK__OFFSET__INSIDE__FILE, line FROM raw_origination")
        kept = engine.query("SELECT id_loan, seller_name FROM origination")
        rejected = engine.query(
            "SELECT src_file, src_line, layout, reason, raw_line FROM origination_rejects"
        )

    assert sorted(n for n, _ in raw) == list(range(1, physical + 1))
    lines = dict(raw)
    assert lines[1].startswith("759|") and lines[3] == ""
    assert "\ufffd" in lines[4] and lines[6] == "bad\ufffd|line"  # each invalid byte → U+FFFD

    assert len(raw) == len(kept) + len(rejected)
    expected = {n: reason for n, (_, reason) in enumerate(LINES, start=1) if reason is not None}
    assert {n: reason for _, n, _, reason, _ in rejected} == expected
    assert {os.path.basename(f) for f, *_ in rejected} == {"sample_orig_2024.txt"}
    assert {layout for _, _, layout, _, _ in rejected} == {"article"}
    assert sorted(kept) == [
        ("F24Q40000001", "ROCKET MORTGAGE, LLC"),
        ("F24Q40000002", "CRÉDIT AGRICOLE, S.A."),
        ("F24Q40000012", "TRUIST BANK"),
    ]
    # What landed in S3 says the same: the processed text (UTF-8) and the rejects.
    processed = S3Uri(settings.s3.processed_bucket, "freddie/origination")
    objects = store.data_objects(processed)
    text = b"".join(store.s3.get_object(Bucket=o.bucket, Key=o.key)["Body"].read() for o in objects)
    assert text.decode("utf-8").count("\n") == 3 and "CRÉDIT AGRICOLE, S.A." in text.decode("utf-8")
    assert store.data_objects(S3Uri(settings.s3.processed_bucket, "freddie/rejects/origination"))
