"""`bdml batch run --from TREE` on downloads shaped as Freddie Mac ships them: both naming eras, folders at
any depth, zips read in place, CRLF line ends, a UTF-8 BOM, an empty file, a garbage line, a line that is
not UTF-8, a lone CR, and performance lines holding a NUL byte or a backslash (PostgreSQL refused the whole
load for one NUL) — loaded exactly, per file, and again the same on a rerun."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from producers.freddie.generator import generate
from producers.freddie.layouts import Kind
from services.settings import Settings
from services.warehouse.mysql import connect as mysql_connect
from tests.e2e.test_batch_cli import _bdml

pytestmark = pytest.mark.e2e

ID_FIELD = {Kind.ORIGINATION: 19, Kind.PERFORMANCE: 0}  # id_loan's position in article and guide2024
GARBAGE = b"this line is not a loan\r\n"
NOT_UTF8 = b"|".join([b"1"] * 23 + [b"BANCO DE ESPA\xd1A", b"x", b"N", b"N"]) + b"\r\n"  # cp1252 byte
LONE_CR = b"half a line\rthe other half\r\n"  # two lines, as Hadoop reads text


def _with_delq_sts(line: bytes, value: bytes) -> bytes:
    """A performance line with another delinquency status (a text field, loaded into Redshift)."""
    fields = line.split(b"|")
    fields[3] = value
    return b"|".join(fields)


def _quarter(tmp: Path, layout: str, seed: int, letter: bytes) -> dict[Kind, tuple[bytes, int]]:
    """A generated quarter as CRLF bytes with loan ids of their own (the generator numbers from 1 in
    every run, real quarters never share an id), and the lines each file must see rejected."""
    out = tmp / f"gen-{seed}"
    result = generate(out, layout, 300, 2000, dirty_share=0.02, seed=seed)
    files = {}
    for item in result.files:
        lines = item.path.read_bytes().split(b"\n")[:-1]
        position = ID_FIELD[item.kind]
        relabelled = []
        for line in lines:
            fields = line.split(b"|")
            if len(fields) > position and fields[position].startswith(b"F"):
                fields[position] = letter + fields[position][1:]
            relabelled.append(b"|".join(fields) + b"\r\n")
        files[item.kind] = (b"".join(relabelled), item.expected_rejects)
    return files


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("downloads")
    root = tmp / "Downloads"
    q1 = _quarter(tmp, "article", 1, b"A")
    q2 = _quarter(tmp, "article", 2, b"B")
    q24 = _quarter(tmp, "guide2024", 3, b"C")
    # The article's era, extracted: the origination file in its quarter's folder (with a BOM, a garbage
    # line and a line that is not UTF-8), the performance file loose beside it.
    era1 = root / "freddie" / "2010" / "historical_data1_Q12010"
    era1.mkdir(parents=True)
    (era1 / "historical_data1_Q12010.txt").write_bytes(
        b"\xef\xbb\xbf" + q1[Kind.ORIGINATION][0] + GARBAGE + NOT_UTF8 + LONE_CR
    )
    performance = q1[Kind.PERFORMANCE][0]
    first = performance[: performance.index(b"\r\n") + 2]
    odd = _with_delq_sts(first, b"0\x00") + _with_delq_sts(first, b"0\\")
    (era1.parent / "historical_data1_time_Q12010.txt").write_bytes(performance + odd)
    # The next quarter of the same era, still zipped.
    with zipfile.ZipFile(
        root / "freddie" / "2010" / "historical_data1_Q22010.zip", "w", zipfile.ZIP_DEFLATED
    ) as z:
        z.writestr("historical_data1_Q22010.txt", q2[Kind.ORIGINATION][0])
        z.writestr("historical_data1_time_Q22010.txt", q2[Kind.PERFORMANCE][0])
    # Today's naming, zipped, and a sample zip whose origination file is empty.
    with zipfile.ZipFile(root / "historical_data_2024Q1.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("historical_data_2024Q1.txt", q24[Kind.ORIGINATION][0])
        z.writestr("historical_data_time_2024Q1.txt", q24[Kind.PERFORMANCE][0])
    with zipfile.ZipFile(root / "sample_2017.zip", "w") as z:
        z.writestr("sample_orig_2017.txt", b"")
    (root / "README.txt").write_text("downloaded from the Freddie Mac site\n")
    expected = {
        "historical_data1_Q12010.txt": q1[Kind.ORIGINATION][1] + 4,
        "historical_data1_time_Q12010.txt": q1[Kind.PERFORMANCE][1] + 2,
        "historical_data1_Q22010.txt": q2[Kind.ORIGINATION][1],
        "historical_data1_time_Q22010.txt": q2[Kind.PERFORMANCE][1],
        "historical_data_2024Q1.txt": q24[Kind.ORIGINATION][1],
        "historical_data_time_2024Q1.txt": q24[Kind.PERFORMANCE][1],
    }
    return root, expected


def _run(stack: Settings, root: Path, report: Path) -> dict[str, Any]:
    result = _bdml(stack, "batch", "run", "--from", str(root), "--report", str(report))
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Traceback" not in result.stderr
    return dict(json.loads(report.read_text()))


def test_real_shaped_downloads_load_exactly_and_rerun_the_same(
    stack: Settings, downloads: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, expected_rejects = downloads
    report = _run(stack, root, tmp_path / "first.json")
    assert report["reconciled"] is True
    per_file = {Path(f["file"].split(":")[-1]).name: f for f in report["files"]}
    assert per_file.keys() == expected_rejects.keys()  # six files, two quarters of one era apart
    for name, f in per_file.items():
        assert f["rejected"] == expected_rejects[name], name
        assert f["lines"] == f["loaded"] + f["rejected"]
    notes = {Path(i["file"]).name: i.get("note") for i in report["inputs"]}
    assert notes["sample_2017.zip:sample_orig_2017.txt"] == "empty file: 0 rows"
    assert {Path(s["file"]).name for s in report["skipped"]} == {"README.txt"}
    steps = {s["step"]: s for s in report["steps"]}
    reasons = steps["hql origination"]["detail"]["reject_reasons"]
    assert reasons.get("line is not valid UTF-8") == 1
    assert reasons.get("expected 27 fields") is not None
    assert steps["hql performance"]["detail"]["reject_reasons"]["line holds a NUL byte or a backslash"] == 2
    loaded = steps["hql origination"]["rows_out"]
    with mysql_connect(stack.mysql.dsn) as con, con.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT LEFT(id_loan, 1)) FROM origination")
        assert cur.fetchone() == (loaded, 3)  # three quarters, none overwrote another

    again = _run(stack, root, tmp_path / "second.json")
    assert again["files"] == report["files"]
    assert [(s["step"], s["rows_out"]) for s in again["steps"]] == [
        (s["step"], s["rows_out"]) for s in report["steps"]
    ]
