"""How the CLI tests run `stockroom`: in this process through Click's runner, or as a process."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from typer.testing import CliRunner

from interfaces.cli.main import app as cli
from tests.servers import STOCKROOM, environment

#: A working directory without a stray .env file.
TESTS: Final = Path(__file__).resolve().parents[1]
#: A database URL nothing answers at (port 9, discard); its password must never be shown.
UNREACHABLE: Final = "postgresql+asyncpg://u:hunter2@127.0.0.1:9/x"


def run_command(
    command: Sequence[str], *, env: Mapping[str, str | None] | None = None, cwd: Path = TESTS
) -> subprocess.CompletedProcess[str]:
    """A process to its end; `env` changes this process's environment (None unsets)."""
    return subprocess.run(
        command,
        env=environment(env or {}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def stockroom(
    *args: str, env: Mapping[str, str | None] | None = None, cwd: Path = TESTS
) -> subprocess.CompletedProcess[str]:
    """A real `stockroom` process."""
    return run_command([STOCKROOM, *args], env=env, cwd=cwd)


def run(
    *args: str,
    url: str,
    cwd: Path = TESTS,
    env: Mapping[str, str] | None = None,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """The `stockroom` command on `url`.

    In this process through Click's runner by default (the same Typer app the console script
    runs; a new interpreter per command would cost seconds of imports each), or as a real
    process with `process=True`, which the exit-status and start-up tests use.
    """
    changes = {"STOCKROOM_DATABASE_URL": url, **(env or {})}
    if process:
        return stockroom(*args, env=changes, cwd=cwd)
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(cli, list(args), env=changes, catch_exceptions=False)
    return subprocess.CompletedProcess(
        [STOCKROOM, *args], result.exit_code, result.stdout, result.stderr
    )


def ok(*args: str, url: str, process: bool = False) -> str:
    result = run(*args, url=url, process=process)
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_error_line(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The failure is `error: ...` on exactly one stderr line, no traceback, no password, the
    given status."""
    assert (result.returncode, result.stderr.count("\n")) == (status, 1), (
        result.returncode,
        result.stdout,
        result.stderr,
    )
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    return result.stderr.strip()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def embedded_env(data_dir: Path) -> dict[str, str | None]:
    """Environment changes for the embedded PostgreSQL in `data_dir` (no database URL)."""
    return {"STOCKROOM_DATABASE_URL": None, "STOCKROOM_DATA_DIR": str(data_dir)}


def on_a_terminal(
    *args: str, env: Mapping[str, str | None], cwd: Path = TESTS, columns: int = 120
) -> tuple[int, str]:
    """The command's status and everything it wrote to a pseudo-terminal (stdout and stderr)."""
    controller, terminal = pty.openpty()
    changes = {"NO_COLOR": None, "TERM": "xterm-256color", "COLUMNS": str(columns), **env}
    process = subprocess.Popen(
        [STOCKROOM, *args],
        stdout=terminal,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
        env=environment(changes),
        cwd=cwd,
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
    return process.wait(timeout=180), output.decode(errors="replace")


def seed(url: str, directory: Path, *rows: dict[str, object]) -> None:
    """Store rows with one command (an import) rather than one `add` each."""
    path = directory / "seed.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ok("items", "import", str(path), url=url)
