"""A primary and its streaming standby: two throwaway clusters joined by `pg_basebackup -R`.

The replica fault tests and the read-replica benchmark both read from the standby while writing
to the primary; the database is migrated on the primary and reaches the standby by replication.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from infrastructure.db import migrator
from tests.servers import child_pids
from tests.support.cluster import Cluster, find_binary, owned_tmpdir, run_as_owner


@dataclass(frozen=True)
class ClusterPair:
    primary: Cluster
    standby: Cluster
    #: The migrated database, on both.
    database: str


@contextmanager
def streaming_pair(
    database_prefix: str,
    *,
    settings: Mapping[str, str] | None = None,
    apply_delay: str | None = None,
    cpu: str | None = None,
) -> Iterator[ClusterPair]:
    """A started primary with a migrated database and a hot standby replaying it, destroyed on
    the way out.

    `settings` are both clusters' postgresql.conf lines; `apply_delay` (e.g. "200ms") makes the
    standby apply each commit that late; `cpu` pins both servers.
    """
    primary = Cluster(owned_tmpdir("stockroom-primary-"), settings=settings)
    standby = Cluster(owned_tmpdir("stockroom-standby-"), settings=settings)
    try:
        primary.init()
        primary.start(cpu=cpu)
        database = primary.create_database(database_prefix)
        migrator.upgrade(primary.url(database))
        subprocess.run(
            [
                find_binary("pg_basebackup"),
                "--pgdata",
                str(standby.pgdata),
                "--dbname",
                primary.dsn(),
                "--write-recovery-conf",  # standby.signal and primary_conninfo
                "--wal-method=stream",
                "--create-slot",
                "--slot=stockroom_standby",
                "--checkpoint=fast",  # not a spread checkpoint: minutes on an idle server
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=60,
            **run_as_owner(),
        )
        # The copied postgresql.conf still names the primary's port and socket directory.
        standby_settings = {
            "port": str(standby.port),
            "unix_socket_directories": f"'{standby.root}'",
            "hot_standby": "on",
        }
        if apply_delay is not None:
            standby_settings["recovery_min_apply_delay"] = f"'{apply_delay}'"
        with (standby.pgdata / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in standby_settings.items())
        standby.start(cpu=cpu)
        yield ClusterPair(primary, standby, database)
    finally:
        standby.destroy()
        primary.destroy()


def transactions(cluster: Cluster, database: str) -> int:
    """Transactions `database` has ended on `cluster` (each backend flushes its counts itself)."""
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    if row is None:
        raise RuntimeError(f"no database {database} on 127.0.0.1:{cluster.port}")
    return int(row[0])


@contextmanager
def frozen(cluster: Cluster) -> Iterator[None]:
    """Every process of `cluster` stopped (SIGSTOP), resumed (SIGCONT) on the way out: a server
    that keeps its connections open and answers nothing, which no server-side timeout ends.

    The postmaster first, so that it forks no backend meanwhile, then every process it forked
    (each runs in a session of its own, so no process group holds them all).
    """
    postmaster = cluster.postmaster_pid()
    if postmaster is None:
        raise RuntimeError(f"no server running on 127.0.0.1:{cluster.port}")
    os.kill(postmaster, signal.SIGSTOP)
    stopped = [postmaster]
    try:
        for child in child_pids(postmaster):
            with suppress(ProcessLookupError):  # it exited before the postmaster stopped
                os.kill(child, signal.SIGSTOP)
                stopped.append(child)
        yield
    finally:
        for pid in stopped:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def reads_waiting_on_a_lock(cluster: Cluster) -> int:
    """The service's statements on `cluster` that wait for a lock now."""
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = 'stockroom' AND wait_event_type = 'Lock'"
        ).fetchone()
    assert row is not None
    return int(row[0])
