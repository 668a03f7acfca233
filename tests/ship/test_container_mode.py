"""The container image's mode (STOCKROOM_EMBEDDED=false): a missing database URL is a usage error
for every command that needs a database, said in one line, and no embedded server is started."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.servers import STOCKROOM


@pytest.mark.parametrize(
    "command", [["serve", "--port", "0"], ["db", "upgrade"], ["items", "list"]], ids=" ".join
)
def test_without_a_database_url_the_command_exits_2_with_one_line(
    command: list[str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKROOM_")}
    env |= {"STOCKROOM_EMBEDDED": "false", "STOCKROOM_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [STOCKROOM, *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: STOCKROOM_DATABASE_URL is not set (required: the embedded PostgreSQL is off, "
        "STOCKROOM_EMBEDDED=false)"
    ]
    assert not (tmp_path / "data").exists(), "an embedded server was started"
