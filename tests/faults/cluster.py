"""The fault tests' view of a throwaway cluster: their databases, its log, PgBouncer before it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import psycopg
from psycopg.rows import dict_row

from tests.support.cluster import Cluster, find_binary, give_to_owner, owned_tmpdir, run_as_owner
from tests.support.ports import free_port

#: The fault tests' cluster: small, no fsync (the tests kill servers, never the machine), and
#: every log line names its database and application (see Database.log).
SETTINGS: Final = {
    "max_connections": "100",
    "shared_buffers": "32MB",
    "fsync": "off",
    "log_line_prefix": "'%m [%p] %d %a '",
}

#: What the server log says when PostgreSQL cancels one of the service's statements.
STATEMENT_TIMEOUT_LOG: Final = "stockroom ERROR:  canceling statement due to statement timeout"

T = TypeVar("T")


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
                "SELECT pid, state, wait_event_type, wait_event, backend_type, query"
                " FROM pg_stat_activity"
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

    def waiting_on_a_table(self) -> list[dict[str, Any]]:
        """Sessions waiting for a lock on a whole table (DDL, or what queues behind it), not on
        a row another request holds."""
        return [s for s in self.waiting_on_locks() if s["wait_event"] == "relation"]

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
        for path in (userlist, self.ini):
            give_to_owner(path)
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
