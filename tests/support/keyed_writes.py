"""Keyed writes under a database fault, and the ledger that checks what became of them.

Clients send creates and stock adjustments, each with a fresh `Idempotency-Key`, and record
every answer: acknowledged (2xx), refused (503 with `Retry-After`: nothing was written) or
unknown (a 503 saying the outcome is unknown, or no answer at all). Once the fault is over the
unknown ones are re-sent with the same key until they settle. The ledger is then held against
the database: every acknowledged write is there once, nothing refused is, and each counter's
quantity is its start plus exactly the adjustments acknowledged. Any other answer (a 500, a 503
without `Retry-After`) is a violation. The failover tests and bench/failover.py share it.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import psycopg

from tests.support.http import LOOPBACK_TLS

#: The problem type of a write whose COMMIT was sent and never answered.
OUTCOME_UNKNOWN: Final = "/problems/outcome-unknown"
START_QUANTITY: Final = 1_000_000
#: A request bound far past the service's own statement bound: a request still unanswered
#: then has hung, which the ledger records as an unknown outcome (and the test as a failure).
CLIENT_TIMEOUT: Final = 30.0


@dataclass
class Write:
    key: str
    method: str
    path: str
    body: dict[str, Any]
    server: int
    #: "acknowledged", "refused", "unknown"; settled ones end "acknowledged" or "refused".
    outcome: str = "unknown"
    result: dict[str, Any] | None = None
    #: monotonic time the answer arrived (acknowledged only)
    acknowledged_at: float | None = None
    retries: int = 0

    @property
    def is_create(self) -> bool:
        return self.path == "/v1/items"


@dataclass
class Ledger:
    """Every write sent, by key; the answers that break the contract; the acknowledgement times
    per server."""

    writes: dict[str, Write] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            self.answers[what] = self.answers.get(what, 0) + 1

    def acknowledged(self) -> list[Write]:
        return [w for w in self.writes.values() if w.outcome == "acknowledged"]

    def unknown(self) -> list[Write]:
        return [w for w in self.writes.values() if w.outcome == "unknown"]

    def longest_gap(self, since: float, until: float) -> float:
        """The longest time, per server, between two acknowledged writes within [since, until]:
        how long writes were unavailable."""
        gaps = [0.0]
        for server in {w.server for w in self.writes.values()}:
            times = sorted(
                w.acknowledged_at
                for w in self.writes.values()
                if w.server == server
                and w.acknowledged_at is not None
                and since <= w.acknowledged_at <= until
            )
            gaps += [later - earlier for earlier, later in itertools.pairwise(times)]
            if times:
                gaps += [times[0] - since]
            else:
                gaps += [until - since]
        return max(gaps)


def classify(response: httpx.Response, ok: int) -> str:
    """'acknowledged', 'refused', 'unknown', or a description of the violation."""
    if response.status_code == ok:
        return "acknowledged"
    if response.status_code == 503 and response.headers.get("retry-after", "").isdigit():
        problem_type = ""
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            problem_type = str(response.json().get("type", ""))
        return "unknown" if problem_type.endswith(OUTCOME_UNKNOWN) else "refused"
    return f"{response.status_code} {response.text[:300]}"


def send(client: httpx.Client, ledger: Ledger, write: Write) -> None:
    ok = 201 if write.is_create else 200
    try:
        response = client.request(
            write.method, write.path, json=write.body, headers={"Idempotency-Key": write.key}
        )
    except httpx.TransportError as exc:  # no answer: it may or may not have been written
        ledger.count(f"no answer ({type(exc).__name__})")
        write.outcome = "unknown"
        return
    verdict = classify(response, ok)
    ledger.count(f"{response.status_code} {verdict if verdict in ('refused', 'unknown') else ''}")
    if verdict == "acknowledged":
        write.outcome = "acknowledged"
        write.result = response.json()
        write.acknowledged_at = time.monotonic()
    elif verdict in ("refused", "unknown"):
        # A refused retry of an unknown write settles nothing: it stays unknown.
        write.outcome = "unknown" if write.outcome == "unknown" and write.retries else verdict
    else:
        with ledger.lock:
            ledger.violations.append(f"{write.method} {write.path}: {verdict}")
        write.outcome = "unknown"  # whatever it did, it is settled by retrying


@dataclass
class Load:
    """Clients spread over the servers, sending keyed writes until stopped."""

    base_urls: Sequence[str]
    counters: Sequence[str]
    clients: int = 6
    #: Pacing between a client's requests: a steady load the shared CPUs can carry.
    pause: float = 0.01
    #: After a 503 a client waits this long, not the whole Retry-After: it sees writes come back
    #: within that, yet does not spin (each refused write costs the service a connection attempt
    #: to every node, CPU the recovering cluster needs).
    backoff: float = 0.25
    #: Starts every SKU this load creates (a benchmark runs several loads on one database).
    prefix: str = "HA"
    ledger: Ledger = field(default_factory=Ledger)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.threads = [
            threading.Thread(target=self._client, args=(i,)) for i in range(self.clients)
        ]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT + 5)

    def acknowledged_since(self, since: float) -> int:
        return sum(
            1
            for w in list(self.ledger.writes.values())
            if w.acknowledged_at is not None and w.acknowledged_at >= since
        )

    def _client(self, number: int) -> None:
        server = number % len(self.base_urls)
        with httpx.Client(
            base_url=self.base_urls[server], timeout=CLIENT_TIMEOUT, verify=LOOPBACK_TLS
        ) as client:
            n = 0
            while not self.stop.is_set():
                key = str(uuid.uuid4())
                if n % 2 == 0:
                    sku = f"{self.prefix}-{number}-{n}"
                    body: dict[str, Any] = {
                        "sku": sku,
                        "name": "Failover",
                        "price": "1.00",
                        "quantity": 1,
                    }
                    write = Write(key, "POST", "/v1/items", body, server)
                else:
                    counter = self.counters[(n // 2) % len(self.counters)]
                    delta = 1 if n % 4 == 1 else -1
                    write = Write(
                        key,
                        "POST",
                        f"/v1/items/{counter}/stock-adjustments",
                        {"delta": delta},
                        server,
                    )
                with self.ledger.lock:
                    self.ledger.writes[key] = write
                send(client, self.ledger, write)
                n += 1
                time.sleep(self.pause if write.outcome == "acknowledged" else self.backoff)


def settle(base_url: str, ledger: Ledger, within: float = 60.0) -> None:
    """Re-send every unknown write with its key until each is acknowledged (or refused)."""
    deadline = time.monotonic() + within
    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT, verify=LOOPBACK_TLS) as client:
        while ledger.unknown():
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(ledger.unknown())} writes never settled")
            for write in ledger.unknown():
                write.retries += 1
                send(client, ledger, write)
            time.sleep(0.5)


def create_counters(base_url: str, prefix: str = "HA", count: int = 4) -> list[str]:
    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT, verify=LOOPBACK_TLS) as client:
        return [
            client.post(
                "/v1/items",
                json={
                    "sku": f"{prefix}-counter-{i}",
                    "name": "Counter",
                    "price": "1.00",
                    "quantity": START_QUANTITY,
                },
            )
            .raise_for_status()
            .json()["id"]
            for i in range(count)
        ]


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    arithmetic: list[str] = field(default_factory=list)

    @property
    def problems(self) -> dict[str, list[str]]:
        return {
            name: values
            for name, values in (
                ("acknowledged writes lost", self.lost),
                ("duplicated writes", self.duplicated),
                ("refused writes that were written", self.unexpected),
                ("stock arithmetic", self.arithmetic),
            )
            if values
        }


def check(
    conn: psycopg.Connection[Any], ledger: Ledger, counters: Sequence[str], prefix: str = "HA"
) -> Verdict:
    """Hold the settled ledger against the database (a connection to the primary)."""
    verdict = Verdict()
    rows = conn.execute(
        "SELECT sku, id::text FROM items WHERE sku LIKE %s AND sku NOT LIKE %s",
        (f"{prefix}-%", f"{prefix}-COUNTER-%"),
    ).fetchall()
    stored: dict[str, list[str]] = {}
    for sku, item_id in rows:
        stored.setdefault(sku, []).append(item_id)
    creates = [w for w in ledger.writes.values() if w.is_create]
    for write in creates:
        sku = str(write.body["sku"]).upper()
        ids = stored.get(sku, [])
        if len(ids) > 1:
            verdict.duplicated.append(f"{sku}: {ids}")
        if write.outcome == "acknowledged":
            assert write.result is not None
            if write.result["id"] not in ids:
                verdict.lost.append(f"create {sku} ({write.result['id']})")
        elif ids:
            verdict.unexpected.append(f"create {sku} ({write.outcome})")
    for counter in counters:
        row = conn.execute(
            "SELECT quantity, version FROM items WHERE id = %s", (counter,)
        ).fetchone()
        assert row is not None, counter
        applied = [
            int(w.body["delta"])
            for w in ledger.acknowledged()
            if w.path == f"/v1/items/{counter}/stock-adjustments"
        ]
        expected = (START_QUANTITY + sum(applied), 1 + len(applied))
        if (row[0], row[1]) != expected:
            verdict.arithmetic.append(
                f"{counter}: quantity, version {tuple(row)}, acknowledged {expected}"
            )
    return verdict
