"""Promise 8: an item whose creation was acknowledged (201) survives a hard kill of the service,
on an external database and on the embedded default.

Creates keep running while the service is SIGKILLed (its whole process group), so some requests
die unanswered; every one that was answered 201 must be found by a new server.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.cluster import Database, wait_until
from tests.faults.conftest import Serve, new_item, service_env
from tests.servers import Server

pytestmark = pytest.mark.slow

WRITERS = 4


def kill_while_creating(
    server: Server, *, acknowledged_before_kill: int, prefix: str = "dur"
) -> list[dict[str, Any]]:
    """Create items from several threads, SIGKILL the server mid-stream; return the 201s."""
    acknowledged: list[dict[str, Any]] = []
    lock = threading.Lock()
    numbers = itertools.count()
    killed = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            while not killed.is_set():
                try:
                    response = client.post("/v1/items", json=new_item(f"{prefix}-{next(numbers)}"))
                except httpx.TransportError:
                    return  # the server died under this request: not acknowledged
                assert response.status_code == 201, response.text
                with lock:
                    acknowledged.append(response.json())

    with ThreadPoolExecutor(WRITERS) as pool:
        writers = [pool.submit(write) for _ in range(WRITERS)]
        wait_until(
            lambda: len(acknowledged) >= acknowledged_before_kill,
            within=30,
            what=f"{acknowledged_before_kill} acknowledged creates",
        )
        server.kill()
        killed.set()
        for writer in writers:
            writer.result(timeout=15)
    with lock:
        return list(acknowledged)


def assert_all_present(server: Server, acknowledged: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for item in acknowledged:
            fetched = client.get(f"/v1/items/{item['id']}")
            assert fetched.status_code == 200, f"acknowledged item lost: {item}"
            assert fetched.json() == item


def test_acknowledged_items_survive_a_hard_kill_on_an_external_database(
    database: Database, serve: Serve
) -> None:
    env = service_env(database.url)
    acknowledged = kill_while_creating(serve(env), acknowledged_before_kill=40)
    assert_all_present(serve(env), acknowledged)


# -- the embedded default ---------------------------------------------------------------------


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid)


def _proc_state(pid: int) -> str:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.lower()
    return ""


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """STOCKROOM_DATA_DIR for the embedded server; its PostgreSQL is stopped at teardown.

    A hard-killed owner never stops the embedded server (that is the point), so the test must.
    Not under pytest's tmp dir: any pytest session starting meanwhile makes that private to
    root again, and the embedded server runs as another OS user.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="stockroom-embedded-")) / "data"
    try:
        yield data_dir
    finally:
        pid = postmaster_pid(data_dir)
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
            deadline = time.monotonic() + 15
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def embedded_env(data_dir: Path) -> dict[str, str | None]:
    return {"STOCKROOM_DATABASE_URL": None, "STOCKROOM_DATA_DIR": str(data_dir)}


def test_acknowledged_items_survive_hard_kills_on_the_embedded_default(
    embedded_data_dir: Path, serve: Serve
) -> None:
    env = embedded_env(embedded_data_dir)
    first = serve(env)
    postmaster = postmaster_pid(embedded_data_dir)
    assert postmaster is not None
    acknowledged = kill_while_creating(first, acknowledged_before_kill=40)

    # The embedded PostgreSQL outlives its owner's hard kill; the next server attaches to it.
    assert alive(postmaster)
    second = serve(env)
    assert postmaster_pid(embedded_data_dir) == postmaster
    assert_all_present(second, acknowledged)
    acknowledged += kill_while_creating(second, acknowledged_before_kill=20, prefix="again")

    # Now PostgreSQL dies as hard as its owner: the next start must recover it from disk.
    os.kill(postmaster, signal.SIGKILL)
    wait_until(lambda: not alive(postmaster), within=10, what="the postmaster to die")
    third = serve(env)
    restarted = postmaster_pid(embedded_data_dir)
    assert restarted not in (None, postmaster)
    assert_all_present(third, acknowledged)

    # The owners killed above are forgotten: the last clean exit stops the embedded server.
    assert third.terminate() == 0
    wait_until(lambda: not alive(restarted), within=15, what="the embedded PostgreSQL to stop")
