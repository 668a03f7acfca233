"""A three-node Patroni cluster on one etcd, as host processes, for the failover tests and bench.

Debian's `patroni` and `etcd-server` packages (installed by .ci/install-tools.sh) drive the
installed PostgreSQL 15 binaries; every process listens on free loopback ports and lives in one
temporary directory, and `patroni_cluster()` leaves neither behind. Patroni runs as the
`postgres` OS user when the caller is root (PostgreSQL refuses root).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg

from tests.servers import STOCKROOM, child_pids, environment
from tests.support.cluster import (
    HARNESS_OPTIONS,
    find_binary,
    give_to_owner,
    owned_tmpdir,
    run_as_owner,
)
from tests.support.http import LOOPBACK_TLS
from tests.support.ports import free_port

SCOPE: Final = "stockroom"
APP_USER: Final = "stockroom"
APP_PASSWORD: Final = "stockroom-ha"
APP_DATABASE: Final = "stockroom"
BIN_DIR: Final = Path("/usr/lib/postgresql/15/bin")
INSTALL_HINT: Final = "install Patroni and etcd with `bash .ci/install-tools.sh`"
#: Patroni's timings, as deploy/ha/patroni.yml sets them (the reasons are there): the leader key
#: expires `TTL` seconds after the last renewal, so a dead primary's node is replaced within
#: about that; a live Patroni acts on a crashed PostgreSQL in steps a `LOOP_WAIT` apart (notice,
#: recover, restart, promote), so that wait sets how soon it is back. Patroni requires
#: loop_wait + 2 * retry_timeout <= ttl (so a slow etcd never costs a healthy leader its key).
TTL: Final = 20
LOOP_WAIT: Final = 1
RETRY_TIMEOUT: Final = 5

#: Writes the cluster creates the app role and database with, once, on the first leader.
_POST_BOOTSTRAP: Final = f"""#!/bin/sh
# Patroni passes a superuser connection string to the bootstrapped leader.
set -e
psql "$1" -v ON_ERROR_STOP=1 -q \\
    -c "CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}'" \\
    -c "CREATE DATABASE {APP_DATABASE} OWNER {APP_USER}"
"""


def _patroni_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"`{name}` is not installed: {INSTALL_HINT}")
    return found


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _wait_gone(pids: list[int], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            status = Path(f"/proc/{pid}/status")
            with suppress(OSError):
                if "State:\tZ" in status.read_text():  # a zombie: dead, its parent not told yet
                    break
            time.sleep(0.05)


@dataclass
class Node:
    name: str
    root: Path
    port: int
    rest_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def config(self) -> Path:
        return self.root / "patroni.yml"

    @property
    def log(self) -> Path:
        return self.root / "patroni.log"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @contextmanager
    def connect(self, database: str = APP_DATABASE) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(
            self.dsn(database),
            autocommit=True,
            connect_timeout=5,
            application_name="harness",
            options=HARNESS_OPTIONS,
        ) as conn:
            yield conn

    def in_recovery(self) -> bool:
        with self.connect() as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        assert row is not None
        return bool(row[0])

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class PatroniCluster:
    root: Path
    synchronous: bool = True
    #: False turns fsync off. Safe when every fault kills processes, never the machine: the
    #: kernel's page cache keeps what a killed server wrote. Crash recovery then waits on no
    #: disk shared with the rest of a test run, so the outage is Patroni's and Stockroom's.
    durable: bool = True
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    etcd: subprocess.Popen[bytes] | None = None
    nodes: list[Node] = field(default_factory=list)

    # -- addresses -----------------------------------------------------------------------

    def url(self, **query: str) -> str:
        """The multi-host URL: every node, the driver keeps the one that accepts writes."""
        hosts = "&".join(f"host=127.0.0.1:{node.port}" for node in self.nodes)
        extra = "".join(f"&{key}={value}" for key, value in query.items())
        return (
            f"postgresql+asyncpg://{APP_USER}:{APP_PASSWORD}@/{APP_DATABASE}"
            f"?{hosts}&target_session_attrs=read-write{extra}"
        )

    def node_url(self, node: Node) -> str:
        return (
            f"postgresql+asyncpg://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{node.port}/{APP_DATABASE}"
        )

    def replica_urls(self) -> str:
        """STOCKROOM_REPLICA_URLS: each node itself; whichever is the primary is skipped."""
        return ",".join(self.node_url(node) for node in self.nodes)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    # -- life cycle ----------------------------------------------------------------------

    def start_etcd(self) -> None:
        data = self.root / "etcd"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        client = f"http://127.0.0.1:{self.etcd_port}"
        with (self.root / "etcd.log").open("w") as log:
            self.etcd = subprocess.Popen(
                [
                    _patroni_binary("etcd"),
                    "--name=etcd0",
                    f"--data-dir={data}",
                    f"--listen-peer-urls={peer}",
                    f"--initial-advertise-peer-urls={peer}",
                    f"--listen-client-urls={client}",
                    f"--advertise-client-urls={client}",
                    f"--initial-cluster=etcd0={peer}",
                    "--initial-cluster-state=new",
                    f"--initial-cluster-token={self.root.name}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.etcd.poll() is not None:
                raise RuntimeError(f"etcd exited:\n{(self.root / 'etcd.log').read_text()}")
            with suppress(httpx.TransportError):
                if httpx.get(f"{client}/health", timeout=1, verify=LOOPBACK_TLS).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("etcd did not become healthy within 30 s")

    def add_node(self, name: str) -> Node:
        root = self.root / name
        root.mkdir()
        give_to_owner(root)
        node = Node(name, root, free_port(), free_port())
        node.config.write_text(json.dumps(self._config(node), indent=2))
        give_to_owner(node.config)
        self.nodes.append(node)
        return node

    def _config(self, node: Node) -> dict[str, Any]:
        """Patroni's configuration (YAML is a superset of JSON) for `node`."""
        script = self.root / "post_bootstrap.sh"
        if not script.exists():
            script.write_text(_POST_BOOTSTRAP)
            script.chmod(0o755)
        return {
            "scope": SCOPE,
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{node.rest_port}",
                "connect_address": f"127.0.0.1:{node.rest_port}",
            },
            "etcd3": {"hosts": [f"127.0.0.1:{self.etcd_port}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    # The negative control's standby lags by design; it must still be promoted.
                    "maximum_lag_on_failover": 1_048_576 if self.synchronous else 2**40,
                    "synchronous_mode": self.synchronous,
                    # Strict: with no synchronous standby left, commits wait rather than being
                    # acknowledged by the primary alone.
                    "synchronous_mode_strict": self.synchronous,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "wal_log_hints": "on",  # pg_rewind needs it (or data checksums)
                            "fsync": "on" if self.durable else "off",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "hot_standby": "on",
                            "wal_keep_size": "128MB",
                            # A standby whose primary vanished retries its stream this often: it
                            # follows the promoted node (and acknowledges commits) sooner.
                            "wal_retrieve_retry_interval": "1s",
                        },
                    },
                },
                "initdb": [
                    {"encoding": "UTF8"},
                    {"locale": "C"},
                    "no-sync",  # a throwaway cluster: nothing outlives the run
                ],
                "post_bootstrap": str(script),
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node.port}",
                "connect_address": f"127.0.0.1:{node.port}",
                "data_dir": str(node.pgdata),
                "bin_dir": str(BIN_DIR),
                "pgpass": str(node.root / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "postgres"},
                    "replication": {"username": "postgres", "password": "postgres"},
                    "rewind": {"username": "postgres", "password": "postgres"},
                },
                "parameters": {"unix_socket_directories": str(node.root)},
                # Loopback only: trust, as every throwaway cluster of the tests.
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication all 127.0.0.1/32 trust",
                ],
                # A spread checkpoint takes minutes on an idle server; a replica waits for it.
                "basebackup": [{"checkpoint": "fast"}],
            },
        }

    def start_node(self, node: Node) -> None:
        with node.log.open("a") as log:
            node.process = subprocess.Popen(
                [_patroni_binary("patroni"), str(node.config)],
                cwd=node.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Patroni's own Python: nothing of the test run's virtualenv.
                env=environment({"PYTHONPATH": None, "VIRTUAL_ENV": None}),
                **run_as_owner(),
            )

    # -- state, from Patroni's REST API --------------------------------------------------

    def members(self) -> list[dict[str, Any]]:
        """The cluster as any live node's Patroni sees it (empty when none answers)."""
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            with suppress(httpx.HTTPError, ValueError):
                response = httpx.get(f"{node.rest_url}/cluster", timeout=2, verify=LOOPBACK_TLS)
                members: list[dict[str, Any]] = response.json().get("members", [])
                return members
        return []

    def leader(self) -> Node | None:
        for member in self.members():
            if member.get("role") == "leader" and member.get("state") == "running":
                return self.node(member["name"])
        return None

    def wait_healthy(self, within: float = 90.0, *, replicas: int = 2) -> Node:
        """Wait for a running leader and `replicas` streaming standbys (one synchronous, in
        synchronous mode); returns the leader."""
        deadline = time.monotonic() + within
        members: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            members = self.members()
            roles = [m.get("role") for m in members if m.get("state") in ("running", "streaming")]
            standbys = [r for r in roles if r in ("replica", "sync_standby")]
            synced = "sync_standby" in roles or not self.synchronous
            if "leader" in roles and len(standbys) >= replicas and synced:
                leader = self.leader()
                if leader is not None:
                    return leader
            time.sleep(0.2)
        logs = "\n".join(f"--- {n.name}\n{n.tail()}" for n in self.nodes)
        raise RuntimeError(f"cluster not healthy within {within} s: {members}\n{logs}")

    def wait_leader(self, within: float, *, other_than: Node | None = None) -> Node:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None and leader is not other_than:
                return leader
            time.sleep(0.2)
        logs = "\n".join(f"--- {n.name}\n{n.tail()}" for n in self.nodes)
        raise RuntimeError(f"no leader within {within} s: {self.members()}\n{logs}")

    def member(self, node: Node) -> dict[str, Any]:
        return next((m for m in self.members() if m["name"] == node.name), {})

    # -- faults --------------------------------------------------------------------------

    def kill_node(self, node: Node) -> None:
        """The node dies: Patroni and every PostgreSQL process, SIGKILL, nothing said to etcd."""
        if node.process is not None:
            _kill(node.process.pid)
        self.crash_postgres(node)
        if node.process is not None:
            node.process.wait(10)

    def crash_postgres(self, node: Node) -> None:
        """PostgreSQL alone dies (SIGKILL to the postmaster and its children); Patroni lives."""
        postmaster = node.postmaster_pid()
        if postmaster is None:
            return
        # Stopped first so it forks nothing while its children are listed.
        with suppress(ProcessLookupError):
            os.kill(postmaster, signal.SIGSTOP)
        victims = [postmaster, *child_pids(postmaster)]
        for pid in victims:
            _kill(pid)
        _wait_gone(victims)

    def switchover(self, leader: Node) -> httpx.Response:
        """A planned switchover through the leader's REST API, as `patronictl switchover`."""
        return httpx.post(
            f"{leader.rest_url}/switchover",
            json={"leader": leader.name},
            timeout=60,
            verify=LOOPBACK_TLS,
        )

    def walsenders(self, node: Node) -> list[int]:
        """The processes that send a primary's WAL to its standbys."""
        postmaster = node.postmaster_pid()
        if postmaster is None:
            return []
        found = []
        for pid in child_pids(postmaster):
            with suppress(OSError):
                if "walsender" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                    found.append(pid)
        return found

    # -- teardown ------------------------------------------------------------------------

    def destroy(self, keep_logs: Path | None = None) -> None:
        """Every process the cluster started killed, its directory removed (its logs first
        copied to `keep_logs`, when given: what Patroni did is the first question on a failure)."""
        victims: list[int] = []
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                victims.append(node.process.pid)
                _kill(node.process.pid)
            postmaster = node.postmaster_pid()
            if postmaster is not None and Path(f"/proc/{postmaster}").exists():
                children = child_pids(postmaster)
                _kill(postmaster)
                for pid in children:
                    _kill(pid)
                victims += [postmaster, *children]
        for node in self.nodes:
            if node.process is not None:
                with suppress(subprocess.TimeoutExpired):
                    node.process.wait(10)
        if self.etcd is not None:
            self.etcd.kill()
            self.etcd.wait(10)
        _wait_gone(victims)
        if keep_logs is not None:
            for log in [self.root / "etcd.log", *(node.log for node in self.nodes)]:
                if log.exists():
                    shutil.copy(log, keep_logs / f"{log.parent.name}-{log.name}")
        shutil.rmtree(self.root, ignore_errors=True)


def migrate(url: str) -> None:
    """`stockroom db upgrade` on the cluster, as a release step would run it."""
    result = subprocess.run(
        [STOCKROOM, "db", "upgrade"],
        env=environment({"STOCKROOM_DATABASE_URL": url}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"stockroom db upgrade failed:\n{result.stdout}\n{result.stderr}")


@contextmanager
def patroni_cluster(
    *,
    synchronous: bool = True,
    durable: bool = True,
    nodes: int = 3,
    keep_logs: Path | None = None,
) -> Iterator[PatroniCluster]:
    """etcd and `nodes` Patroni nodes, healthy, the app database migrated; all gone afterwards.

    `synchronous=False` is asynchronous streaming replication: a commit is acknowledged by the
    primary alone.
    """
    find_binary("initdb")  # the PostgreSQL binaries Patroni drives: fail early if missing
    cluster = PatroniCluster(
        owned_tmpdir("stockroom-patroni-"), synchronous=synchronous, durable=durable
    )
    try:
        cluster.start_etcd()
        first = cluster.add_node("node1")
        # The first node bootstraps alone, so it is the one that becomes the leader.
        cluster.start_node(first)
        cluster.wait_leader(within=60)
        for i in range(2, nodes + 1):
            cluster.start_node(cluster.add_node(f"node{i}"))
        cluster.wait_healthy(replicas=nodes - 1)
        migrate(cluster.url())
        yield cluster
    finally:
        cluster.destroy(keep_logs)
