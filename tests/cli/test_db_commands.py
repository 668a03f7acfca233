"""`stockroom db ...` as a user runs it: a real process, exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer

STOCKROOM = str(Path(sys.executable).with_name("stockroom"))


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOCKROOM_DATABASE_URL": url}
    return subprocess.run(
        [STOCKROOM, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def scratch_url(pg_server: PostgresServer) -> Iterator[str]:
    name = pg_server.create_database("stockroom_cli")
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


def test_upgrade_current_check_downgrade(scratch_url: str) -> None:
    assert run("db", "current", url=scratch_url).stdout.strip().startswith("base")
    upgraded = run("db", "upgrade", url=scratch_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "(head)" in run("db", "current", url=scratch_url).stdout
    checked = run("db", "check", url=scratch_url)
    assert checked.returncode == 0, checked.stderr
    assert "agree" in checked.stdout
    downgraded = run("db", "downgrade", "base", url=scratch_url)
    assert downgraded.returncode == 0, downgraded.stderr
    assert run("db", "current", url=scratch_url).stdout.strip().startswith("base")


def test_an_unreachable_database_is_one_line_and_exit_1() -> None:
    result = run("db", "upgrade", url="postgresql+asyncpg://u:hunter2@127.0.0.1:9/x")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: cannot reach the database")
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(scratch_url: str) -> None:
    assert run("db", "downgrade", url=scratch_url).returncode == 2
    assert run("db", "nonsense", url=scratch_url).returncode == 2
    assert run("serve", "--port", "notaport", url=scratch_url).returncode == 2


def test_an_invalid_database_url_is_a_clear_error() -> None:
    result = run("db", "current", url="mysql://root:hunter2@db/x")
    assert result.returncode == 2
    assert "STOCKROOM_DATABASE_URL" in result.stderr or "database_url" in result.stderr
    assert "hunter2" not in result.stderr
