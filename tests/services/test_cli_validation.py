"""Every range and choice is checked by the CLI before anything starts: one message naming the option,
exit 2, no traceback, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app

pytestmark = pytest.mark.unit

BAD_INPUTS = [
    ("batch run --engine foo", "--engine"),
    ("batch run --dirty-share 2", "--dirty-share"),
    ("batch run --acquisitions -5", "--acquisitions"),
    ("batch run --layout foo", "--layout"),
    ("batch generate OUT --layout bar", "--layout"),
    ("batch generate OUT --performance 0", "--performance"),
    ("ml prepare --validation-fraction 1.5", "--validation-fraction"),
    ("ml train --arch resnet", "--arch"),
    ("ml train --epochs 0", "--epochs"),
    ("ml serve --port 99999", "--port"),
    ("stream run --rate 0", "--rate"),
    ("stream run --malformed-share 1.5", "--malformed-share"),
    ("stream run --shards 0", "--shards"),
    ("stream run --records 0", "--records"),
    ("stream produce --buffer-size 0", None),  # not an option of produce: click's own error
    ("stream analytics --until-idle -1", "--until-idle"),
    ("stream tail -n 0", "-n"),
    ("web --port 99999", "--port"),
    ("runs nope", "pipeline"),
]


@pytest.mark.parametrize(("command", "option"), BAD_INPUTS)
def test_a_bad_value_is_one_message_and_exit_2(command: str, option: str | None, tmp_path: Path) -> None:
    args = [str(tmp_path / "out") if word == "OUT" else word for word in command.split()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    if option:
        assert any(f"Invalid value for {name}" in result.output for name in (f"'{option}'", option))
    assert not (tmp_path / "out").exists()  # nothing was started
