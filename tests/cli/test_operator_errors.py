"""Operator mistakes as a real `stockroom` process meets them: one `error: ...` line, the
documented exit status, never a traceback; usage errors plain off a terminal."""

from __future__ import annotations

import socket
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.cli.helpers import (
    UNREACHABLE,
    embedded_env,
    on_a_terminal,
    one_error_line,
    run,
    stockroom,
)
from tests.support.ports import free_port

TWO_KEYS_ONE_ID = f"ops:read:{'a' * 64},ops:write:{'b' * 64}"
ONE_KEY_TWO_IDS = f"ops:read:{'a' * 64},ci:read:{'a' * 64}"
BAD_CORS = {"STOCKROOM_DATABASE_URL": UNREACHABLE, "STOCKROOM_CORS_ORIGINS": "http://x"}
BAD_SETTINGS = [
    ("db current", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:abc/x"}, 2),
    ("db current", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:99999/x"}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:abc/x"}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:70000/x"}, 2),
    ("items list", {"STOCKROOM_DATABASE_URL": "postgresql+asyncpg://u:hunter2@db:-1/x"}, 2),
    (
        "db current",
        {"STOCKROOM_DATABASE_URL": UNREACHABLE, "STOCKROOM_CORS_ORIGINS": "http://x"},
        2,
    ),
    ("serve", {"STOCKROOM_DATABASE_URL": UNREACHABLE, "STOCKROOM_CORS_ORIGINS": "http://x"}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": UNREACHABLE, "STOCKROOM_CONNECT_TIMEOUT": "inf"}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": UNREACHABLE, "STOCKROOM_POOL_TIMEOUT": "nan"}, 2),
    ("items list", {"STOCKROOM_DATABASE_URL": UNREACHABLE, "STOCKROOM_CONNECT_TIMEOUT": "inf"}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": UNREACHABLE, "STOCKROOM_API_KEYS": TWO_KEYS_ONE_ID}, 2),
    ("serve", {"STOCKROOM_DATABASE_URL": UNREACHABLE, "STOCKROOM_API_KEYS": ONE_KEY_TWO_IDS}, 2),
]


@pytest.mark.parametrize(("command", "env", "status"), BAD_SETTINGS)
def test_a_bad_setting_is_one_line_and_exit_2(
    command: str, env: dict[str, str], status: int, tmp_path: Path
) -> None:
    args = [*command.split(), *(["--port", str(free_port())] if command == "serve" else [])]
    line = one_error_line(stockroom(*args, env=env, cwd=tmp_path), status)
    assert "STOCKROOM_" in line


def test_failing_migration_commands_are_one_line_and_exit_1(
    scratch_url: str, tmp_path: Path
) -> None:
    external = {"STOCKROOM_DATABASE_URL": scratch_url}
    assert "Can't locate revision" in one_error_line(
        stockroom("db", "upgrade", "9999", env=external, cwd=tmp_path), 1
    )
    assert "not up to date" in one_error_line(
        stockroom("db", "check", env=external, cwd=tmp_path), 1
    )
    # A fresh embedded data directory: created (and said so), never migrated by `db` commands.
    data_dir = tmp_path / "fresh"
    embedded = embedded_env(data_dir)
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
        assert why in one_error_line(result, 1), args


def test_serve_checks_its_address_before_starting_anything(tmp_path: Path) -> None:
    data_dir = tmp_path / "never"
    embedded = embedded_env(data_dir)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        in_use = stockroom("serve", "--port", port, env=embedded, cwd=tmp_path)
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(in_use, 1)
    bad_host = stockroom("serve", "--host", "no-such-host.invalid", env=embedded, cwd=tmp_path)
    assert "--host 'no-such-host.invalid'" in one_error_line(bad_host, 1)
    foreign = stockroom("serve", "--host", "192.0.2.1", env=embedded, cwd=tmp_path)
    assert "cannot listen on 192.0.2.1" in one_error_line(foreign, 1)
    assert not data_dir.exists()  # no database was started, let alone migrated


def test_usage_errors_are_one_plain_line_off_a_terminal(tmp_path: Path) -> None:
    env = {"STOCKROOM_DATABASE_URL": UNREACHABLE}
    for args in [
        ("items", "get", "not-a-uuid"),
        ("--no-such-option",),
        ("items", "list", "--limit", "0"),
        ("items", "list", "--in-stock", "--out-of-stock"),
        ("keys", "new", "--scope", "read", "--id", ""),
    ]:
        result = stockroom(*args, env=env, cwd=tmp_path)
        assert "╭" not in one_error_line(result, 2), args


def test_usage_errors_are_boxed_on_a_terminal(tmp_path: Path) -> None:
    status, output = on_a_terminal("items", "get", "not-a-uuid", env={}, cwd=tmp_path, columns=100)
    assert status == 2, output
    assert "╭" in output


def test_both_stock_filters_are_a_usage_error() -> None:
    for command in (["items", "list"], ["items", "export", "-", "--format", "csv"]):
        result = run(*command, "--in-stock", "--out-of-stock", url=UNREACHABLE)
        assert result.returncode == 2, result.stderr
        assert result.stderr == "error: give --in-stock or --out-of-stock, not both\n"


def test_version_comes_from_the_package_metadata() -> None:
    result = run("--version", url=UNREACHABLE)
    assert result.returncode == 0
    assert result.stdout == f"stockroom {version('stockroom')}\n"
