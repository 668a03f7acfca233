"""An output that cannot be written (stdout closed, a full disk) ends a command or a script with one
`error: cannot write the output: ...` line and status 1, as it ends other Unix tools: never a
traceback, never "cannot reach the database". A stderr that fails only loses its lines."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from tests.cli.helpers import TESTS, ok, one_error_line
from tests.servers import STOCKROOM, environment


def run_to(
    command: Sequence[str],
    *,
    stdout: IO[bytes] | int | None,
    stderr: IO[bytes] | int = subprocess.PIPE,
    url: str = "",
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        stdout=stdout,
        stderr=stderr,
        env=environment({"STOCKROOM_DATABASE_URL": url}),
        cwd=TESTS,
        text=True,
        timeout=180,
        check=False,
        preexec_fn=preexec_fn,
    )
    result.stdout = ""  # the stream under test is not captured
    return result


def with_stdout_closed(*command: str) -> list[str]:
    """`command` started with descriptor 1 closed, as `command >&-` starts it."""
    return ["sh", "-c", 'exec "$@" >&-', "sh", *command]


def add_item(url: str, sku: str) -> None:
    ok("items", "add", "--sku", sku, "--name", "N", "--price", "1", "--quantity", "1", url=url)


def test_help_into_a_closed_stdout_fails() -> None:
    result = run_to(with_stdout_closed(STOCKROOM, "--help"), stdout=None)

    assert one_error_line(result) == "error: cannot write the output: Bad file descriptor"


def test_a_listing_into_a_closed_stdout_fails(database_url: str) -> None:
    add_item(database_url, "closed-1")

    result = run_to(with_stdout_closed(STOCKROOM, "items", "list"), stdout=None, url=database_url)

    assert one_error_line(result) == "error: cannot write the output: Bad file descriptor"


def test_a_full_disk_is_an_output_failure_not_the_database(database_url: str) -> None:
    add_item(database_url, "full-1")
    script = str(TESTS.parent / "scripts" / "restock.py")

    with open("/dev/full", "wb") as full:
        listing = run_to([STOCKROOM, "items", "list", "--json"], stdout=full, url=database_url)
        restock = run_to(
            [sys.executable, script, "--below", "5", "--to", "9", "--dry-run"],
            stdout=full,
            url=database_url,
        )

    for result in (listing, restock):
        assert one_error_line(result) == "error: cannot write the output: No space left on device"


def test_a_failing_stderr_loses_its_lines_not_the_status(database_url: str) -> None:
    add_item(database_url, "stderr-1")
    export = [STOCKROOM, "items", "export", "-", "--format", "csv"]  # "exported 1 items" on stderr

    with open("/dev/full", "wb") as full, open(os.devnull, "wb") as null:
        exported = run_to(export, stdout=null, stderr=full, url=database_url)
        failed = run_to(export, stdout=full, stderr=full, url=database_url)

    assert (exported.returncode, failed.returncode) == (0, 1)


def _files_of_at_most_16_bytes() -> None:
    """In the child: a write past 16 bytes fails with EFBIG (SIGXFSZ ignored, not fatal)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))


def test_an_export_file_that_cannot_be_written_is_an_output_failure(
    database_url: str, tmp_path: Path
) -> None:
    add_item(database_url, "file-1")
    target = tmp_path / "items.csv"

    result = run_to(
        [STOCKROOM, "items", "export", str(target), "--format", "csv"],
        stdout=subprocess.DEVNULL,
        url=database_url,
        preexec_fn=_files_of_at_most_16_bytes,
    )

    assert one_error_line(result) == "error: cannot write the output: File too large"
    assert list(tmp_path.iterdir()) == []  # neither the export nor its partial file
