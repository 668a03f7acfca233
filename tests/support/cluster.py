"""A throwaway PostgreSQL cluster from the installed server binaries (initdb, pg_ctl, postgres).

The fault tests stop, start and look inside theirs; the benchmarks measure against theirs.
PostgreSQL refuses to run as root, so when the caller is root every server process runs as the
`postgres` OS user and the cluster lives in a directory that user owns (pytest's own tmp dirs
are private to root).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql

from tests.support.ports import free_port

OS_USER: Final = "postgres"
#: Where Debian's packages put the programs when they are not on PATH.
_FALLBACK_BIN_DIRS: Final = (Path("/usr/lib/postgresql/15/bin"), Path("/usr/sbin"))
INSTALL_HINT: Final = "install PostgreSQL 15 and pgbouncer with `bash .ci/install-tools.sh`"
#: Every statement of a harness connection gives up within seconds instead of hanging the run
#: behind a lock some test left held.
HARNESS_OPTIONS: Final = "-c lock_timeout=10s -c statement_timeout=60s"


def find_binary(name: str) -> str:
    """The path of a PostgreSQL/PgBouncer program; a missing one fails the test, never skips it."""
    found = shutil.which(name)
    if found:
        return found
    for directory in _FALLBACK_BIN_DIRS:
        if (directory / name).is_file():
            return str(directory / name)
    raise RuntimeError(f"`{name}` is not installed: {INSTALL_HINT}")


def run_as_owner() -> dict[str, Any]:
    """Popen arguments that drop root to the `postgres` OS user (no-op for a normal user)."""
    if os.geteuid() != 0:
        return {}
    entry = _os_user()
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def give_to_owner(path: Path) -> None:
    """Make `path` the server's OS user's (no-op for a normal user)."""
    if os.geteuid() == 0:
        entry = _os_user()
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _os_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        raise RuntimeError(f"no `{OS_USER}` OS user to run PostgreSQL as: {INSTALL_HINT}") from None


def owned_tmpdir(prefix: str) -> Path:
    """A fresh directory the server's OS user owns (and may traverse to)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    give_to_owner(path)
    return path


def create_database(
    conn: psycopg.Connection[Any], prefix: str, *, template: str | None = None
) -> str:
    """A new database named `prefix` plus a random suffix, optionally a copy of `template`."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    conn.execute(statement)
    return name


def drop_database(conn: psycopg.Connection[Any], name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class Cluster:
    """One PostgreSQL cluster on 127.0.0.1:<free port> with trust authentication.

    `settings` are postgresql.conf lines (values quoted as the file wants them) on top of
    PostgreSQL's defaults.
    """

    def __init__(self, root: Path, *, settings: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.logfile = root / "postgres.log"
        self.port = free_port()
        self.settings = dict(settings or {})

    def _run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **run_as_owner(),
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}\n"
                f"{self.log_tail()}"
            )
        return result

    def init(self) -> None:
        self._run(
            find_binary("initdb"),
            "--pgdata",
            str(self.pgdata),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",  # a throwaway cluster: nothing outlives the run
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            **self.settings,
        }
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self, *, cpu: str | None = None) -> None:
        """Start the server; `cpu` pins it (and every backend it forks) to those CPUs."""
        pinned = ("taskset", "-c", cpu) if cpu is not None else ()
        self._run(
            *pinned,
            find_binary("pg_ctl"),
            "--pgdata",
            str(self.pgdata),
            "--log",
            str(self.logfile),
            "--wait",
            "--timeout",
            "60",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is the outage: every backend dies at once, no checkpoint, no goodbye."""
        self._run(
            find_binary("pg_ctl"),
            "--pgdata",
            str(self.pgdata),
            "--mode",
            mode,
            "--wait",
            "--timeout",
            "30",
            "stop",
        )

    @property
    def running(self) -> bool:
        result = subprocess.run(
            [find_binary("pg_ctl"), "--pgdata", str(self.pgdata), "status"],
            capture_output=True,
            check=False,
            timeout=30,
            **run_as_owner(),
        )
        return result.returncode == 0

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def postmaster_pid(self) -> int | None:
        """The server's main process (None when it is not running)."""
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def destroy(self) -> None:
        """Stop the server, whatever state it is in, and remove its files."""
        if self.pgdata.exists() and self.running:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pid = self.postmaster_pid()
                if pid is not None:
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        if not self.logfile.exists():
            return ""
        return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])

    # -- addresses -----------------------------------------------------------------------

    def dsn(self, database: str = "postgres", *, port: int | None = None) -> str:
        """A libpq URL (psycopg, asyncpg, psql)."""
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{database}"

    def url(self, database: str, *, port: int | None = None) -> str:
        """The service's URL form (SQLAlchemy + asyncpg); `port` points it elsewhere (a proxy)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port or self.port}/{database}"

    @contextmanager
    def connect(self, database: str = "postgres") -> Iterator[psycopg.Connection[Any]]:
        """An autocommit psycopg connection, named so it never counts as the service's."""
        with psycopg.connect(
            self.dsn(database),
            autocommit=True,
            connect_timeout=5,
            application_name="harness",
            options=HARNESS_OPTIONS,
        ) as conn:
            yield conn

    def create_database(self, prefix: str, *, template: str | None = None) -> str:
        with self.connect() as conn:
            return create_database(conn, prefix, template=template)

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            drop_database(conn, name)


@contextmanager
def throwaway_cluster(
    prefix: str, *, settings: Mapping[str, str] | None = None, cpu: str | None = None
) -> Iterator[Cluster]:
    """A cluster initialised and started in a fresh directory, destroyed on the way out."""
    cluster = Cluster(owned_tmpdir(prefix), settings=settings)
    try:
        cluster.init()
        cluster.start(cpu=cpu)
        yield cluster
    finally:
        cluster.destroy()
