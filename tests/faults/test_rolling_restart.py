"""A rolling restart behind a real load balancer fails no request and loses or duplicates no write.

HAProxy (the deploy's own configuration, deploy/haproxy/haproxy.cfg, with this test's servers)
in front of three `stockroom serve` processes on one database, under a steady load of reads,
creates and stock adjustments. The clients never retry: the only retries are the balancer's.
Each process in turn gets SIGTERM, drains, exits 0, and is replaced by a new one (started while
the old one drains) on a new port, set through HAProxy's runtime API as an orchestrator would;
the balancer brings it in once its readiness check passes.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.faults.balancer import Balancer
from tests.faults.cluster import Database, wait_until
from tests.faults.helpers import Serve, new_item, service_env, start_all
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow

#: Longer than the balancer needs to see two failed checks a second apart.
#: Waits the promise puts no bound on (a replica coming up, load flowing) only guard against a
#: hang: a loaded machine may take far longer than a quiet one.
HANG_GUARD = 120
DRAIN: Final = 4
GRACE: Final = 10
CLIENTS: Final = 4
#: Each client's bound on requests: the load stops at the end of the restarts or at this.
MAX_REQUESTS: Final = 4000
#: Pacing between a client's requests: a steady load, not the most the machine can take (the
#: promise is about failed requests, and the suite shares the machine's CPUs).
PAUSE: Final = 0.05
START_QUANTITY: Final = 1000


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except ConnectionRefusedError:
        return False


@dataclass
class Load:
    """Clients through the balancer, each a sequence of requests; what was acknowledged."""

    base_url: str
    counters: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    created: dict[str, str] = field(default_factory=dict)  # sku -> id
    deltas: dict[str, list[int]] = field(default_factory=dict)  # counter id -> applied deltas
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, number: int) -> None:
        with httpx.Client(
            base_url=self.base_url, timeout=GRACE + DRAIN, verify=LOOPBACK_TLS
        ) as client:
            for n in range(MAX_REQUESTS):
                if self.stop.is_set():
                    return
                try:
                    self.one(client, number, n)
                except httpx.TransportError as exc:  # the client does not retry: a failure
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                with self.lock:
                    self.requests += 1
                time.sleep(PAUSE)

    def one(self, client: httpx.Client, number: int, n: int) -> None:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        kind = n % 4
        if kind == 0:
            sku = f"ROLL-{number}-{n}"  # as the service normalizes it
            response = client.post("/v1/items", json=new_item(sku), headers=key)
            if self.expect(response, 201):
                self.created[sku] = response.json()["id"]
        elif kind == 1:
            counter = self.counters[n % len(self.counters)]
            delta = 1 if n % 8 == 1 else -1
            response = client.post(
                f"/v1/items/{counter}/stock-adjustments", json={"delta": delta}, headers=key
            )
            if self.expect(response, 200):
                with self.lock:
                    self.deltas[counter].append(delta)
        else:
            response = client.get(f"/v1/items/{self.counters[n % len(self.counters)]}")
            self.expect(response, 200)

    def expect(self, response: httpx.Response, status: int) -> bool:
        if response.status_code != status:
            self.failures.append(
                f"{response.request.method} {response.request.url.path}: "
                f"{response.status_code} {response.text[:200]}"
            )
            return False
        return True


def test_rolling_restart_behind_haproxy_fails_no_request(
    database: Database, serve: Serve, balancer: list[Balancer], tmp_path: Path
) -> None:
    env = service_env(database.url, shutdown_drain=str(DRAIN), shutdown_grace=str(GRACE))
    servers = start_all(serve, env, env, env)
    everyone = list(servers)
    lb = Balancer(tmp_path, servers)
    balancer.append(lb)
    for i in range(len(servers)):
        lb.wait_status(f"s{i}", "UP", within=HANG_GUARD)

    with httpx.Client(base_url=lb.base_url, timeout=10, verify=LOOPBACK_TLS) as setup:
        counters = [
            setup.post("/v1/items", json=new_item(f"counter-{i}", quantity=START_QUANTITY))
            .raise_for_status()
            .json()["id"]
            for i in range(3)
        ]
    load = Load(lb.base_url, counters, deltas={c: [] for c in counters})
    clients = [threading.Thread(target=load.client, args=(i,)) for i in range(CLIENTS)]
    for thread in clients:
        thread.start()
    exits = []
    served_during = []
    try:
        wait_until(lambda: load.requests > 50, within=HANG_GUARD, what="the load to flow")
        for i, old in enumerate(list(servers)):
            before = load.requests
            # The replacement starts up while the old one drains (as a deploy would overlap them).
            servers[i] = serve(env, ready=False)
            everyone.append(servers[i])
            old.process.send_signal(signal.SIGTERM)
            # The balancer takes it out while it drains: before it stops accepting.
            lb.wait_status(f"s{i}", "DOWN", within=DRAIN)
            assert accepts_connections(old.port), "stopped accepting before the balancer saw"
            exits.append(old.process.wait(timeout=DRAIN + GRACE + 5))
            servers[i].wait_ready()
            lb.command(f"set server api/s{i} addr 127.0.0.1 port {servers[i].port}")
            lb.wait_status(f"s{i}", "UP", within=HANG_GUARD)
            served_during.append(load.requests - before)
        after = load.requests
        wait_until(
            lambda: load.requests > after + 50, within=HANG_GUARD, what="load after the restarts"
        )
    finally:
        load.stop.set()
        for thread in clients:
            thread.join(timeout=GRACE + DRAIN + 5)

    assert load.failures == [], load.failures[:20]
    assert exits == [0, 0, 0], [s.output()[-2000:] for s in everyone]
    assert all(count > 0 for count in served_during), served_during
    # Every acknowledged create exists, once, as acknowledged; nothing unacknowledged was made.
    with database.connect() as conn:
        rows = conn.execute("SELECT sku, id::text FROM items WHERE sku LIKE 'ROLL-%'").fetchall()
    assert dict(rows) == load.created
    assert len(rows) == len(load.created) > 0
    assert all(load.deltas.values())
    # Stock arithmetic is exact, and each acknowledged adjustment was applied exactly once.
    for counter in counters:
        item = database.item(counter)
        assert item is not None
        applied = load.deltas[counter]
        assert (item["quantity"], item["version"]) == (
            START_QUANTITY + sum(applied),
            1 + len(applied),
        )
    assert "Traceback" not in "".join(s.output() for s in everyone)
