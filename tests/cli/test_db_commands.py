"""`stockroom db ...` as a user runs it: a real process, exit codes, one-line errors."""

from __future__ import annotations

import subprocess

from tests.cli.helpers import UNREACHABLE, one_error_line, stockroom


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return stockroom(*args, env={"STOCKROOM_DATABASE_URL": url})


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
    result = run("db", "upgrade", url=UNREACHABLE)
    assert one_error_line(result).startswith("error: cannot reach the database")


def test_usage_errors_exit_2(scratch_url: str) -> None:
    assert run("db", "downgrade", url=scratch_url).returncode == 2
    assert run("db", "nonsense", url=scratch_url).returncode == 2
    assert run("serve", "--port", "notaport", url=scratch_url).returncode == 2


def test_an_invalid_database_url_is_a_clear_error() -> None:
    result = run("db", "current", url="mysql://root:hunter2@db/x")
    assert result.returncode == 2
    assert "STOCKROOM_DATABASE_URL" in result.stderr or "database_url" in result.stderr
    assert "hunter2" not in result.stderr
