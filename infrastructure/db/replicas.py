"""Read replicas: which database a read-only unit of work may run on, and read-your-writes.

A read runs on a standby only when it is known to have replayed every write the reader must see
(this process's acknowledged writes, the caller's consistency token); otherwise on the primary,
never waiting. Taking a standby out of rotation ends the reads running on it, which then run on
the primary: PostgreSQL cannot bound a read on a standby that stopped answering.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.db.engine import build_engine
from infrastructure.db.write_availability import WriteAvailability
from infrastructure.settings import Settings

_log = logging.getLogger(__name__)

#: A standby whose last good poll is older than this is out of rotation (the monitor stalled).
FRESHNESS: Final = 1.5

#: After COMMIT the insert position is past the commit record even with synchronous_commit off.
CURRENT_LSN_SQL: Final = "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint"

Target = Literal["primary", "replica"]


def format_lsn(lsn: int) -> str:
    """PostgreSQL's own spelling of an LSN, e.g. `0/16B3748`."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int | None:
    """The LSN `format_lsn` spelled, or None when `text` is not one."""
    high, slash, low = text.strip().partition("/")
    if not (slash and 0 < len(high) <= 8 and 0 < len(low) <= 8):
        return None
    try:
        return (int(high, 16) << 32) | int(low, 16)
    except ValueError:
        return None


@dataclass(slots=True)
class Session:
    """One request's consistency: the LSN its reads must see (`unknown`: an unreadable token, so
    no standby is fresh enough), and the LSN of its writes."""

    floor: int | None = None
    unknown: bool = False
    written: int | None = None


#: Set per HTTP request by the consistency middleware; units of work read and update it.
current_session: ContextVar[Session | None] = ContextVar("stockroom_session", default=None)


@dataclass(slots=True)
class Replica:
    name: str  # host:port, never the password
    url: str
    engine: AsyncEngine
    replayed: int = -1  # the last LSN it was seen to have replayed
    checked_at: float = -1.0  # monotonic time of the last good poll
    in_recovery: bool = False
    lag: float | None = None  # seconds behind the primary, None when unknown
    problem: str = "not polled yet"
    #: The asyncpg connections of the reads running on it now.
    readers: set[Any] = field(default_factory=set)

    def usable(self, now: float, max_lag: float) -> bool:
        return (
            not self.problem
            and self.in_recovery
            and now - self.checked_at <= FRESHNESS
            and self.lag is not None
            and self.lag <= max_lag
        )


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    name: str
    usable: bool
    lag_seconds: float | None
    problem: str


#: Beyond any real WAL position: what `written` holds while a write's position is unknown.
POSITION_UNKNOWN: Final = 2**64


@dataclass(slots=True)
class ReplicaSet:
    """The configured standbys, what the monitors know of them, and the process's writes."""

    replicas: list[Replica]
    max_lag: float
    written: int = 0  # the highest LSN of a write this process acknowledged
    reads: dict[str, int] = field(default_factory=lambda: {"primary": 0, "replica": 0})
    #: Whether writes reach a primary: the failovers this process saw (write_availability.py).
    writes: WriteAvailability = field(default_factory=WriteAvailability)
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    #: The primary's WAL position as the monitor sampled it: (monotonic time, LSN).
    primary_samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))

    @property
    def tracking(self) -> bool:
        """Whether writes' LSNs are worth reading: only a standby can serve a stale read."""
        return bool(self.replicas)

    def choose(self) -> Replica | None:
        """A standby fresh enough for the current read, or None for the primary."""
        if not self.replicas:
            return None
        session = current_session.get()
        floor = self.written
        if session is not None:
            if session.unknown:
                return None
            floor = max(floor, session.floor or 0, session.written or 0)
        now = time.monotonic()
        candidates = [
            replica
            for replica in self.replicas
            if replica.replayed >= floor and replica.usable(now, self.max_lag)
        ]
        if not candidates:
            return None
        return candidates[next(self._turn) % len(candidates)]

    def count_read(self, target: Target) -> None:
        self.reads[target] += 1

    def acknowledge(self, lsn: int) -> None:
        """A write that reached `lsn` is about to be acknowledged."""
        self.written = max(self.written, lsn)
        session = current_session.get()
        if session is not None:
            session.written = max(session.written or 0, lsn)

    def position_unknown(self) -> None:
        """A write committed (its COMMIT was answered) but its position went with the
        connection: no standby can be shown to have it until the monitor samples the primary
        again, at or past it, so reads go to the primary until then."""
        _log.warning("a committed write's WAL position is unknown: reads use the primary")
        self.written = POSITION_UNKNOWN

    def sampled_primary(self, lsn: int) -> None:
        self.primary_samples.append((time.monotonic(), lsn))
        if self.written == POSITION_UNKNOWN:
            self.written = lsn

    async def acknowledge_write(self, driver: Any) -> None:
        """After COMMIT, on the write's connection: the position later reads must see. Read
        after COMMIT, not in a RETURNING clause, which would name a position before it. Only
        asked for while `tracking`."""
        self.acknowledge(await driver.fetchval(CURRENT_LSN_SQL))

    def take_out(self, replica: Replica, problem: str) -> None:
        """Out of rotation until its monitor sees it healthy again; the reads running on it
        fail at once (as a lost connection), and their units run them on the primary."""
        if replica.problem != problem:
            _log.warning("replica %s out of rotation: %s", replica.name, problem)
        replica.problem = problem
        readers, replica.readers = replica.readers, set()
        for connection in readers:
            connection.terminate()

    def status(self) -> list[ReplicaStatus]:
        now = time.monotonic()
        return [
            ReplicaStatus(
                replica.name,
                replica.usable(now, self.max_lag),
                replica.lag,
                replica.problem
                or ("" if replica.lag is None or replica.lag <= self.max_lag else "lagging"),
            )
            for replica in self.replicas
        ]

    def put_back(self, replica: Replica) -> None:
        if replica.problem:
            _log.info("replica %s in rotation (was: %s)", replica.name, replica.problem)
        replica.problem = ""

    def lag(self, replayed: int, now: float) -> float | None:
        """Seconds since the primary first had WAL the standby has not replayed (0 if none);
        None before the primary was ever sampled."""
        if not self.primary_samples:
            return None
        for sampled_at, lsn in self.primary_samples:
            if lsn > replayed:
                return max(0.0, now - sampled_at)
        return 0.0

    async def dispose(self) -> None:
        for replica in self.replicas:
            await replica.engine.dispose()


def build_replicas(settings: Settings) -> ReplicaSet:
    replicas = []
    for secret in settings.replica_urls:
        url = secret.get_secret_value()
        parsed = make_url(url)
        replicas.append(
            Replica(f"{parsed.host}:{parsed.port or 5432}", url, build_engine(url, settings))
        )
    return ReplicaSet(replicas, settings.replica_max_lag)
