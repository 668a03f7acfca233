"""Promise 8: an item whose creation was acknowledged (201) survives a hard kill of the service,
on an external database and on the embedded default.

Creates keep running while the service is SIGKILLed (its whole process group), so some requests
die unanswered; every one that was answered 201 must be found by a new server.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from infrastructure.db import embedded
from tests.faults.cluster import Database, wait_until
from tests.faults.helpers import Serve, new_item, service_env
from tests.servers import Server, child_pids
from tests.support.http import LOOPBACK_TLS

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
        with httpx.Client(base_url=server.base_url, timeout=10, verify=LOOPBACK_TLS) as client:
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
    with httpx.Client(base_url=server.base_url, timeout=10, verify=LOOPBACK_TLS) as client:
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
    return Path(f"/proc/{pid}").exists() and not zombie(pid)


def zombie(pid: int) -> bool:
    return "zombie" in _proc_state(pid)


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
        reap_adopted_postgres()
        shutil.rmtree(data_dir.parent, ignore_errors=True)


_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


@contextlib.contextmanager
def adopting_orphans() -> Iterator[None]:
    """Meanwhile, processes orphaned below this one are re-parented to it rather than to init.

    One of them that dies then stays a zombie until this process reaps it: a slow init, under
    the test's control. (Linux's child-subreaper flag; ctypes, as Python has no call for it.)
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def reap_adopted_postgres() -> None:
    """Reap the dead PostgreSQL processes this process adopted (see `adopting_orphans`)."""
    for pid in child_pids(os.getpid()):
        if zombie(pid) and Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def still_starting(server: Server) -> str:
    """The server's output so far; fails at once if it has exited or reported a failure."""
    output = server.output()
    if server.process.poll() is not None or output.startswith("error:") or "\nerror:" in output:
        raise AssertionError(f"server failed to start:\n{output}")
    return output


def embedded_env(data_dir: Path) -> dict[str, str | None]:
    return {"STOCKROOM_DATABASE_URL": None, "STOCKROOM_DATA_DIR": str(data_dir)}


def test_acknowledged_items_survive_hard_kills_on_the_embedded_default(
    embedded_data_dir: Path, serve: Serve
) -> None:
    env = embedded_env(embedded_data_dir)
    with adopting_orphans():  # the embedded PostgreSQL becomes this process's child
        first = serve(env)
    postmaster = postmaster_pid(embedded_data_dir)
    assert postmaster is not None
    assert postmaster in child_pids(os.getpid())
    acknowledged = kill_while_creating(first, acknowledged_before_kill=40)

    # The embedded PostgreSQL outlives its owner's hard kill; the next server attaches to it.
    assert alive(postmaster)
    second = serve(env)
    assert postmaster_pid(embedded_data_dir) == postmaster
    assert_all_present(second, acknowledged)
    acknowledged += kill_while_creating(second, acknowledged_before_kill=20, prefix="again")

    # Now PostgreSQL dies as hard as its owner: the next start must recover it from disk. Until
    # its parent reaps it, the dead postmaster is a zombie whose pid still exists (init takes a
    # second or two): the next server waits for the reaping rather than attach to it.
    os.kill(postmaster, signal.SIGKILL)
    wait_until(lambda: zombie(postmaster), within=10, what="the postmaster to die")
    third = serve(env, ready=False)
    wait_until(
        lambda: "waiting for it to be reaped" in still_starting(third),
        within=60,
        what="the server to wait for the dead postmaster",
    )
    os.waitpid(postmaster, 0)
    third.wait_ready()
    restarted = postmaster_pid(embedded_data_dir)
    assert restarted not in (None, postmaster)
    assert_all_present(third, acknowledged)

    # The owners killed above are forgotten: the last clean exit stops the embedded server.
    assert third.terminate() == 0
    wait_until(lambda: not alive(restarted), within=15, what="the embedded PostgreSQL to stop")


def test_a_postmaster_never_reaped_fails_the_start_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL cannot restart while its dead predecessor's pid exists: say so, in time."""
    dead = subprocess.Popen(["sleep", "60"])
    try:
        dead.kill()
        wait_until(lambda: zombie(dead.pid), within=10, what="the process to die")
        pgdata = tmp_path / "data" / "pgdata"
        pgdata.mkdir(parents=True)
        (pgdata / "postmaster.pid").write_text(f"{dead.pid}\n{pgdata}\n")
        monkeypatch.setattr(embedded, "REAP_WAIT", 0.2)

        with pytest.raises(embedded.EmbeddedDatabaseError) as raised:
            embedded.start_embedded(tmp_path / "data")
    finally:
        dead.wait()
    assert str(raised.value) == (
        f"the embedded PostgreSQL (pid {dead.pid}) died and its parent process has not reaped "
        "it within 0.2s; it cannot be restarted until it is"
    )
