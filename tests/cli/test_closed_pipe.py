"""A reader that goes away (`... | head`) ends a command quietly, with status 141 (128 + SIGPIPE),
as it ends other Unix tools; the database work it finished stays done."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.cli.helpers import TESTS, ok
from tests.servers import STOCKROOM


def into_a_closed_pipe(*command: str, url: str) -> subprocess.CompletedProcess[str]:
    """Run `command` with its stdout on a pipe nobody reads any more: its first write fails."""
    reader, writer = os.pipe()
    os.close(reader)
    # Block-buffered, as a plain `python` writing into a pipe is: the failure may come late.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    try:
        return subprocess.run(
            command,
            stdout=writer,
            stderr=subprocess.PIPE,
            env={**env, "STOCKROOM_DATABASE_URL": url},
            cwd=TESTS,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        os.close(writer)


def add_item(url: str, sku: str, quantity: int) -> None:
    ok(
        "items",
        "add",
        "--sku",
        sku,
        "--name",
        "N",
        "--price",
        "1",
        "--quantity",
        f"{quantity}",
        url=url,
    )


def test_items_into_a_closed_pipe_stop_quietly(database_url: str) -> None:
    add_item(database_url, "pipe-1", 1)
    for args in (["list", "--all", "--json"], ["list"], ["export", "-", "--format", "csv"]):
        result = into_a_closed_pipe(STOCKROOM, "items", *args, url=database_url)
        assert (result.returncode, result.stderr) == (141, ""), args


def test_restock_into_a_closed_pipe_stops_quietly(database_url: str) -> None:
    add_item(database_url, "pipe-2", 1)
    script = TESTS.parent / "scripts" / "restock.py"
    for below in ("5", "1"):  # one item to restock, then none (only the summary is printed)
        result = into_a_closed_pipe(
            sys.executable, str(script), "--below", below, "--to", "9", url=database_url
        )
        assert (result.returncode, result.stderr) == (141, ""), below
