"""`stockroom db ...` as a user runs it: exit codes, one-line errors, destructive downgrades
confirmed. Real processes where the exit status and stderr are the point, the same Typer app in
this process elsewhere."""

from __future__ import annotations

import os
import pty
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from infrastructure.db import migrator
from tests.api.helpers import with_credentials
from tests.cli.helpers import TESTS, UNREACHABLE, one_error_line, stockroom
from tests.cli.helpers import run as run_in_process
from tests.migrations.release import EXPAND, build_release
from tests.postgres import PostgresServer
from tests.servers import STOCKROOM, environment


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


@pytest.fixture
def unusable(pg_server: PostgresServer) -> Iterator[dict[str, str]]:
    """URLs a `db` command cannot use: a wrong password, a database that does not exist."""
    role = f"r_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(secrets.token_hex(8))
            )
        )
    yield {
        "authentication failed": with_credentials(
            pg_server.url_for("postgres"), role, "hunter2-not-this-one"
        ),
        "does not exist": pg_server.url_for(f"stockroom_missing_{secrets.token_hex(4)}"),
    }
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize(
    "command", [("upgrade",), ("current",), ("check",), ("downgrade", "--yes", "base")]
)
def test_a_database_that_refuses_is_one_error_line_naming_the_cause(
    unusable: dict[str, str], command: tuple[str, ...]
) -> None:
    for cause, url in unusable.items():
        line = one_error_line(run_in_process("db", *command, url=url))
        assert cause in line, line
        assert url.split("//", 1)[1].split("@", 1)[0] not in line  # no credentials


def test_a_refusal_is_one_line_from_the_real_command_too(unusable: dict[str, str]) -> None:
    line = one_error_line(run("db", "upgrade", url=unusable["authentication failed"]))
    assert "authentication failed" in line


@pytest.fixture
def with_data(scratch_url: str) -> str:
    assert run_in_process("db", "upgrade", url=scratch_url).returncode == 0
    for n in range(3):
        assert (
            run_in_process(
                "items", "add", "--sku", f"D-{n}", "--name", "d", "--price", "1", url=scratch_url
            ).returncode
            == 0
        )
    return scratch_url


def test_a_downgrade_dropping_data_needs_yes_off_a_terminal(with_data: str) -> None:
    head = migrator.head_revision()
    refused = run("db", "downgrade", "base", url=with_data)
    line = one_error_line(refused)
    assert "items (3 rows)" in line, line
    assert "--yes" in line, line
    assert run_in_process("db", "current", url=with_data).stdout.startswith(str(head))
    assert len(run_in_process("items", "list", "--json", url=with_data).stdout.splitlines()) == 3
    done = run_in_process("db", "downgrade", "--yes", "base", url=with_data)
    assert done.returncode == 0, done.stderr
    assert run_in_process("db", "current", url=with_data).stdout.startswith("base")


def test_a_downgrade_dropping_only_empty_tables_asks_nothing(scratch_url: str) -> None:
    assert run_in_process("db", "upgrade", url=scratch_url).returncode == 0
    done = run_in_process("db", "downgrade", "base", url=scratch_url)
    assert done.returncode == 0, done.stderr


def test_a_downgrade_never_runs_on_a_revision_this_release_does_not_know(
    with_data: str, tmp_path: Path
) -> None:
    release = build_release(tmp_path, up_to=EXPAND)
    upgraded = stockroom("db", "upgrade", env={"STOCKROOM_DATABASE_URL": with_data, **release})
    assert upgraded.returncode == 0, upgraded.stderr
    for args in (("downgrade", "--yes", "base"), ("downgrade", "--yes", "0001")):
        line = one_error_line(run_in_process("db", *args, url=with_data))
        assert f"revision {EXPAND}, which this release does not know" in line, line
    assert run_in_process("db", "current", url=with_data).stdout.startswith(EXPAND)


def test_a_relative_downgrade_drops_only_its_revisions(with_data: str) -> None:
    # The head revision's tables go (confirmed: they hold the items' events); the items stay.
    done = run_in_process("db", "downgrade", "--yes", "--", "-1", url=with_data)
    assert done.returncode == 0, done.stderr
    first = migrator.revisions()[-2]
    assert run_in_process("db", "current", url=with_data).stdout.startswith(first)
    assert len(run_in_process("items", "list", "--json", url=with_data).stdout.splitlines()) == 3


def on_a_terminal_answering(answer: str, *args: str, url: str) -> tuple[int, str]:
    """`stockroom ARGS` with a terminal for stdin, stdout and stderr, typing `answer`."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [STOCKROOM, *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=environment({"STOCKROOM_DATABASE_URL": url, "NO_COLOR": "1"}),
        cwd=TESTS,
    )
    os.close(terminal)
    output = bytearray()
    answered = False
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"Go ahead?" in output:
            os.write(controller, answer.encode() + b"\n")
            answered = True
    os.close(controller)
    return process.wait(timeout=180), output.decode(errors="replace")


def test_on_a_terminal_a_downgrade_dropping_data_asks_first(with_data: str) -> None:
    code, output = on_a_terminal_answering("n", "db", "downgrade", "base", url=with_data)
    assert code == 1, output
    assert "items (3 rows)" in output, output
    assert "error: nothing was changed" in output, output
    assert run_in_process("db", "current", url=with_data).stdout.startswith("0")
    code, output = on_a_terminal_answering("y", "db", "downgrade", "base", url=with_data)
    assert code == 0, output
    assert "database at base" in output, output
