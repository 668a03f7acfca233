"""The container image's mode (STOCKROOM_EMBEDDED=false): a missing database URL is a usage error
for every command that needs a database, said in one line, and no embedded server is started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.helpers import stockroom


@pytest.mark.parametrize(
    "command", [["serve", "--port", "0"], ["db", "upgrade"], ["items", "list"]], ids=" ".join
)
def test_without_a_database_url_the_command_exits_2_with_one_line(
    command: list[str], tmp_path: Path
) -> None:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("STOCKROOM_")}
    env |= {"STOCKROOM_EMBEDDED": "false", "STOCKROOM_DATA_DIR": str(tmp_path / "data")}
    result = stockroom(*command, env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: STOCKROOM_DATABASE_URL is not set (required: the embedded PostgreSQL is off, "
        "STOCKROOM_EMBEDDED=false)"
    ]
    assert not (tmp_path / "data").exists(), "an embedded server was started"
