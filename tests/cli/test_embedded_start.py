"""Starting on the embedded default: a new data directory is announced, one process at a time
creates and migrates it, and a JSON log stream holds nothing but JSON."""

from __future__ import annotations

import fcntl
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from infrastructure.db import migrator
from infrastructure.settings import Settings
from tests.cli.helpers import embedded_env, stockroom
from tests.servers import STOCKROOM, Server, environment
from tests.support.http import LOOPBACK_TLS


def test_an_empty_data_dir_setting_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("STOCKROOM_DATA_DIR", "")
    assert Settings().data_dir == Settings.model_fields["data_dir"].default


def blocked_on_a_lock(pid: int) -> bool:
    """`pid` waits for a POSIX lock (a `->` entry of /proc/locks, Linux)."""
    return any(
        "->" in line and line.split()[5] == str(pid)
        for line in Path("/proc/locks").read_text().splitlines()
    )


def test_the_first_start_of_a_data_dir_waits_for_the_one_in_progress(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with (data_dir / ".start.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another start is in progress
        waiting = subprocess.Popen(
            [STOCKROOM, "db", "current"],
            env=environment(embedded_env(data_dir)),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not blocked_on_a_lock(waiting.pid):
                assert waiting.poll() is None, waiting.communicate()
                assert time.monotonic() < deadline, "the command never waited for the lock"
                time.sleep(0.05)
            assert not (data_dir / "pgdata").exists()
        except BaseException:
            waiting.kill()
            waiting.communicate()
            raise
    out, err = waiting.communicate(timeout=180)  # the lock is released: it goes on
    assert waiting.returncode == 0, err
    assert out.startswith("base")
    assert err == f"creating a new embedded PostgreSQL data directory in {data_dir.resolve()}\n"


@pytest.mark.slow
def test_two_serves_at_once_on_a_new_data_dir(tmp_path: Path) -> None:
    env = {**embedded_env(tmp_path / "data"), "STOCKROOM_LOG_FORMAT": "json"}
    servers = [Server(env, workdir=tmp_path), Server(env, workdir=tmp_path)]
    try:
        for server in servers:
            server.wait_ready(within=180)
        created = httpx.post(
            f"{servers[0].base_url}/v1/items",
            json={"sku": "a", "name": "A", "price": "1"},
            verify=LOOPBACK_TLS,
        )
        assert created.status_code == 201, created.text
        shared = httpx.get(
            f"{servers[1].base_url}{created.headers['location']}", verify=LOOPBACK_TLS
        )
        assert shared.status_code == 200
    finally:
        codes = [server.terminate() for server in servers]
    assert codes == [0, 0], [server.output() for server in servers]
    logs = [[json.loads(line) for line in s.output().splitlines()] for s in servers]
    # Exactly one of them created the directory; each says once that the database is ready.
    creating = [
        record
        for records in logs
        for record in records
        if record["event"].startswith("creating a new embedded PostgreSQL data directory")
    ]
    assert len(creating) == 1
    assert creating[0]["level"] == "warning"
    assert creating[0]["event"].endswith(str((tmp_path / "data").resolve()))
    for records in logs:
        events = [record["event"] for record in records]
        ready = [e for e in events if e.startswith("embedded PostgreSQL ready, data in ")]
        assert len(ready) == 1, events
        assert not [e for e in events if "embedded PostgreSQL running" in e]


def test_an_embedded_database_behind_head_is_migrated_and_one_at_head_is_left(
    tmp_path: Path,
) -> None:
    env = embedded_env(tmp_path / "data")

    def ok(*args: str) -> str:
        result = stockroom(*args, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert ok("db", "upgrade", "0001").strip() == "database at 0001"
    assert ok("items", "list", "--json") == ""  # starts the embedded database: migrates it
    assert ok("db", "current").strip() == f"{migrator.revisions()[-1]} (head)"
    assert ok("items", "list", "--json") == ""
    assert ok("db", "current").strip() == f"{migrator.revisions()[-1]} (head)"
