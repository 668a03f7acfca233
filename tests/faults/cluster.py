"""A throwaway PostgreSQL cluster the fault tests own: they stop it, start it and look inside it.

Built from the installed PostgreSQL binaries (initdb, pg_ctl, postgres). PostgreSQL refuses to run
as root, so when the tests run as root every server process runs as the `postgres` OS user and the
cluster lives in a directory that user owns (pytest's own tmp dirs are private to root).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from tests.postgres import HARNESS_OPTIONS
from tests.servers import free_port

OS_USER: Final = "postgres"
#: Where Debian's packages put the programs when they are not on PATH.
_FALLBACK_BIN_DIRS: Final = (Path("/usr/lib/postgresql/15/bin"), Path("/usr/sbin"))
INSTALL_HINT: Final = "install PostgreSQL 15 and pgbouncer with `bash .ci/install-tools.sh`"

#: What the server log says when PostgreSQL cancels one of the service's statements.
STATEMENT_TIMEOUT_LOG: Final = "stockroom ERROR:  canceling statement due to statement timeout"

T = TypeVar("T")


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


def _os_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        raise RuntimeError(f"no `{OS_USER}` OS user to run PostgreSQL as: {INSTALL_HINT}") from None


def owned_tmpdir(prefix: str) -> Path:
    """A fresh directory the server's OS user owns (and may traverse to)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        entry = _os_user()
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def wait_until(
    check: Callable[[], T | None], *, within: float, what: str, every: float = 0.05
) -> T:
    """Poll `check` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(every)


class Cluster:
    """One PostgreSQL cluster on 127.0.0.1:<free port> with trust authentication."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.logfile = root / "postgres.log"
        self.port = free_port()

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
                f"{' '.join(args[:1])} failed ({result.returncode}):\n{result.stderr}\n"
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
            "--no-sync",  # a test cluster: nothing outlives the run
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "100",
            "shared_buffers": "32MB",
            "fsync": "off",  # the tests kill servers, never the machine
            "log_line_prefix": "'%m [%p] %d %a '",  # database, application: see Database.log
        }
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        self._run(
            find_binary("pg_ctl"),
            "--pgdata",
            str(self.pgdata),
            "--log",
            str(self.logfile),
            "--wait",
            "--timeout",
            "30",
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

    def destroy(self) -> None:
        if self.pgdata.exists() and self.running:
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        if not self.logfile.exists():
            return ""
        return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])

    # -- addresses -----------------------------------------------------------------------

    def dsn(self, database: str = "postgres", *, port: int | None = None) -> str:
        """A libpq URL (psycopg)."""
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
            application_name="faults-test",
            options=HARNESS_OPTIONS,
        ) as conn:
            yield conn

    def create_database(self, prefix: str, *, template: str | None = None) -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        with self.connect() as conn:
            conn.execute(statement)
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass(frozen=True)
class Database:
    """One fresh, migrated database on a Cluster."""

    cluster: Cluster
    name: str

    @property
    def url(self) -> str:
        return self.cluster.url(self.name)

    def url_via(self, port: int) -> str:
        return self.cluster.url(self.name, port=port)

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        with self.cluster.connect(self.name) as conn:
            yield conn

    def service_sessions(self) -> list[dict[str, Any]]:
        """The service's backends in this database (the engine names them `stockroom`)."""
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT pid, state, wait_event_type, backend_type, query FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = 'stockroom'",
                (self.name,),
            )
            return cur.fetchall()

    def log(self) -> str:
        """This database's lines of the server log (the prefix names the database)."""
        marker = f" {self.name} "
        return "\n".join(
            line for line in self.cluster.log_tail(100_000).splitlines() if marker in line
        )

    def waiting_on_locks(self) -> list[dict[str, Any]]:
        return [s for s in self.service_sessions() if s["wait_event_type"] == "Lock"]

    def idle_in_transaction(self) -> list[dict[str, Any]]:
        return [s for s in self.service_sessions() if str(s["state"]).startswith("idle in")]

    def item(self, item_id: str) -> dict[str, Any] | None:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT * FROM items WHERE id = %s", (item_id,))
            return cur.fetchone()


@contextmanager
def row_locked(database: Database, item_id: str) -> Iterator[Callable[[], None]]:
    """Hold `SELECT ... FOR UPDATE` on an item in the test's own transaction.

    Yields `release` (rollback); the lock is released on exit in any case.
    """
    with psycopg.connect(
        database.cluster.dsn(database.name), application_name="faults-locker", connect_timeout=5
    ) as conn:
        conn.execute("SELECT id FROM items WHERE id = %s FOR UPDATE", (item_id,))
        yield conn.rollback
        conn.rollback()


class PgBouncer:
    """PgBouncer in transaction pooling mode in front of a Cluster, run in the foreground."""

    def __init__(self, cluster: Cluster, *, ignore_startup_parameters: Sequence[str] = ()) -> None:
        self.cluster = cluster
        self.root = owned_tmpdir("stockroom-pgbouncer-")
        self.port = free_port()
        self.logfile = self.root / "pgbouncer.log"
        userlist = self.root / "userlist.txt"
        userlist.write_text('"postgres" ""\n')
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": str(userlist),
            "pool_mode": "transaction",
            "max_client_conn": "500",
            "default_pool_size": "20",
            "logfile": str(self.logfile),
            "ignore_startup_parameters": ",".join(ignore_startup_parameters),
        }
        self.ini = self.root / "pgbouncer.ini"
        self.ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={cluster.port}\n\n"
            "[pgbouncer]\n" + "".join(f"{name} = {value}\n" for name, value in settings.items())
        )
        if os.geteuid() == 0:
            entry = _os_user()
            for path in (userlist, self.ini):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [find_binary("pgbouncer"), str(self.ini)],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **run_as_owner(),
        )
        wait_until(self._accepts, within=15, what="pgbouncer to listen", every=0.1)

    def _accepts(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited:\n{self.log()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
