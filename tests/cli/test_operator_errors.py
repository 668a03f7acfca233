"""Operator mistakes as a real `stockroom` process meets them: one `error: ...` line, the
documented exit status, never a traceback; usage errors plain off a terminal."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interfaces.cli.main import app as cli
from tests.postgres import PostgresServer

STOCKROOM = str(Path(sys.executable).with_name("stockroom"))
REFUSED = "postgresql+asyncpg://u:hunter2@127.0.0.1:9/x"


def stockroom(
    *args: str, env: Mapping[str, str | None], cwd: Path
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ}
    for name, value in env.items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = value
    return subprocess.run(
        [STOCKROOM, *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert (result.returncode, result.stderr.count("\n")) == (status, 1), (
        result.returncode,
        result.stderr,
    )
    assert result.stderr.startswith("error: "), result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    return result.stderr


@pytest.fixture
def scratch_url(pg_server: PostgresServer) -> Iterator[str]:
    name = pg_server.create_database("stockroom_cli")
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


BAD_SETTINGS = [
    ("db current", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:abc/x"}, 2),
    ("db current", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:99999/x"}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:abc/x"}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:70000/x"}, 2),
    ("items list", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:-1/x"}, 2),
    ("db current", {"STOCKROOM_DATABASE_URL": REFUSED, "STOCKROOM_CORS_ORIGINS": "http://x"}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": REFUSED, "STOCKROOM_CORS_ORIGINS": "http://x"}, 2),
]


@pytest.mark.parametrize(("command", "env", "status"), BAD_SETTINGS)
def test_a_bad_setting_is_one_line_and_exit_2(
    command: str, env: dict[str, str], status: int, tmp_path: Path
) -> None:
    args = [*command.split(), *(["--port", str(free_port())] if command == "serve" else [])]
    line = assert_one_error_line(stockroom(*args, env=env, cwd=tmp_path), status)
    assert "STOCKROOM_" in line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_failing_migration_commands_are_one_line_and_exit_1(
    scratch_url: str, tmp_path: Path
) -> None:
    external = {"STOCKROOM_DATABASE_URL": scratch_url}
    assert "Can't locate revision" in assert_one_error_line(
        stockroom("db", "upgrade", "9999", env=external, cwd=tmp_path), 1
    )
    assert "not up to date" in assert_one_error_line(
        stockroom("db", "check", env=external, cwd=tmp_path), 1
    )
    # A fresh embedded data directory: created (and said so), never migrated by `db` commands.
    data_dir = tmp_path / "fresh"
    embedded = {"STOCKROOM_DATABASE_URL": None, "STOCKROOM_DATA_DIR": str(data_dir)}
    table = [
        (("db", "check"), "not up to date"),
        (("db", "downgrade", "0001"), "0001"),
        (("db", "upgrade", "9999"), "Can't locate revision"),
    ]
    for args, why in table:
        result = stockroom(*args, env=embedded, cwd=tmp_path)
        # The first command creates the data directory and says so first, on its own line.
        lines = result.stderr.splitlines()
        if lines and lines[0].startswith("creating a new embedded PostgreSQL data directory"):
            assert lines[0].endswith(str(data_dir.resolve()))
            result = subprocess.CompletedProcess(
                result.args, result.returncode, result.stdout, "\n".join(lines[1:]) + "\n"
            )
        assert why in assert_one_error_line(result, 1), args


def test_serve_checks_its_address_before_starting_anything(tmp_path: Path) -> None:
    data_dir = tmp_path / "never"
    embedded = {"STOCKROOM_DATABASE_URL": None, "STOCKROOM_DATA_DIR": str(data_dir)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        in_use = stockroom("serve", "--port", port, env=embedded, cwd=tmp_path)
    assert f"cannot listen on 127.0.0.1:{port}" in assert_one_error_line(in_use, 1)
    bad_host = stockroom("serve", "--host", "no-such-host.invalid", env=embedded, cwd=tmp_path)
    assert "--host 'no-such-host.invalid'" in assert_one_error_line(bad_host, 1)
    foreign = stockroom("serve", "--host", "192.0.2.1", env=embedded, cwd=tmp_path)
    assert "cannot listen on 192.0.2.1" in assert_one_error_line(foreign, 1)
    assert not data_dir.exists()  # no database was started, let alone migrated


def test_usage_errors_are_one_plain_line_off_a_terminal(tmp_path: Path) -> None:
    env = {"STOCKROOM_DATABASE_URL": REFUSED}
    for args in [
        ("items", "get", "not-a-uuid"),
        ("--no-such-option",),
        ("items", "list", "--limit", "0"),
        ("items", "list", "--in-stock", "--out-of-stock"),
        ("keys", "new", "--scope", "read", "--id", ""),
    ]:
        result = stockroom(*args, env=env, cwd=tmp_path)
        assert "╭" not in assert_one_error_line(result, 2), args


def test_usage_errors_are_boxed_on_a_terminal(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "TERM", "COLUMNS"}}
    process = subprocess.Popen(
        [STOCKROOM, "items", "get", "not-a-uuid"],
        stdout=terminal,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "100"},
        cwd=tmp_path,
    )
    os.close(terminal)
    output = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 2
    assert "╭" in output.decode(errors="replace")


def test_both_stock_filters_are_a_usage_error() -> None:
    for command in (["items", "list"], ["items", "export", "-", "--format", "csv"]):
        result = CliRunner().invoke(
            cli, [*command, "--in-stock", "--out-of-stock"], env={"STOCKROOM_DATABASE_URL": REFUSED}
        )
        assert result.exit_code == 2, result.output
        assert result.stderr == "error: give --in-stock or --out-of-stock, not both\n"


def test_version_comes_from_the_package_metadata() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"stockroom {version('stockroom')}\n"
