"""The async unit of work: owns one database session (one pooled connection, one transaction);
rolls back unless committed.

Repositories run their statements on the connection's driver (see compiled.py): the unit of
work checks the asyncpg connection out of the engine's pool itself, without an ORM session per
request (an `AsyncSession`, its `Connection` and their greenlet hops cost about 130 µs a
request). Reads need no transaction (one statement is its own snapshot), so a unit of work that
only reads sends no BEGIN/ROLLBACK; the first write begins one. Behind PgBouncer every unit
begins a transaction, and sets the timeouts in it first (see engine.py).

A unit declared read-only may run on a standby (replicas.py chooses which, or the primary);
every other unit runs on the primary. With standbys configured, a unit on the primary reads
the WAL insert position on its connection when it ends, after COMMIT: the LSN the write is
acknowledged at, which later reads must see (one round trip per write; reading it before
COMMIT, e.g. in a RETURNING clause, would name a position before the commit record).

A read on a standby that loses its connection, or that the standby leaves unanswered until it
is taken out of rotation (see replicas.py), is run once more on the primary, in the same unit:
the standby leaves the rotation, its pool is dropped, and the caller never sees the failure.
Only reads run there, so nothing that writes is ever run twice; on the primary a read fails
as any statement does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool, PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from application.errors import DataStoreUnavailable
from infrastructure.db.engine import TransactionSetup
from infrastructure.db.errors import is_disconnect, unavailable_on_outage
from infrastructure.db.events import SqlEventFeed
from infrastructure.db.idempotency import SqlIdempotencyStore
from infrastructure.db.replicas import CURRENT_LSN_SQL, Replica, ReplicaSet
from infrastructure.db.repository import SqlItemRepository

_log = logging.getLogger(__name__)

T = TypeVar("T")


class SqlUnitOfWork:
    def __init__(
        self,
        engine: AsyncEngine,
        idempotency_ttl: timedelta = timedelta(hours=24),
        transaction_setup: TransactionSetup | None = None,
        replicas: ReplicaSet | None = None,
    ) -> None:
        self._primary = self._engine = engine
        self._setup = transaction_setup
        self._idempotency_ttl = idempotency_ttl
        self._replicas = replicas
        self._read_only = False
        self._replica: Replica | None = None  # the standby this unit reads on, if any
        self._fell_back = False  # a standby failed this unit: it reads on the primary now
        self._active = False
        self._pooled: PoolProxiedConnection | None = None
        self._pool: Pool | None = None  # the pool `_pooled` came from (see _check_in)
        self._driver: Any = None  # the asyncpg connection of `_pooled`
        self._in_transaction = False  # this unit of work sent BEGIN and has not ended it yet

    def read_only(self) -> Self:
        self._read_only = True
        return self

    async def __aenter__(self) -> Self:
        self._active = True
        driver = self.driver
        self.items = SqlItemRepository(driver, self.read)
        self.idempotency = SqlIdempotencyStore(driver, self._idempotency_ttl)
        self.events = SqlEventFeed(driver, self.read)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._active = False
        try:
            if self._pooled is not None:
                await self._end_driver_use(exc)
        finally:
            self._read_only = self._fell_back = False
            self._engine, self._replica = self._primary, None

    async def driver(self, *, write: bool) -> Any:
        """The asyncpg connection of this unit of work, in a transaction when `write`."""
        if write and self._read_only:
            raise RuntimeError("a read-only unit of work cannot write")
        if self._driver is None:
            self._check_active()
            if not (
                self._read_only
                and self._replicas is not None
                and not self._fell_back
                and await self._connect_replica(self._replicas)
            ):
                with unavailable_on_outage():
                    self._pool = self._primary.pool
                    self._pooled = await self._primary.raw_connection()
            assert self._pooled is not None
            self._driver = self._pooled.driver_connection
        if (write or self._setup is not None) and not self._in_transaction:
            await self._begin()
        return self._driver

    async def _connect_replica(self, replicas: ReplicaSet) -> bool:
        """Check a connection out of a fresh enough standby's pool; False: use the primary.

        A standby that fails here leaves the rotation at once (its monitor brings it back),
        and its pool is dropped: its connections most likely died with it.
        """
        replica = replicas.choose()
        if replica is None:
            return False
        try:
            pool = replica.engine.pool
            pooled = await replica.engine.raw_connection()
        except Exception as error:
            replicas.take_out(replica, f"cannot connect ({type(error).__name__})")
            await replica.engine.dispose(close=False)
            return False
        if pooled.driver_connection is None or pooled.driver_connection.is_closed():
            replicas.take_out(replica, "connection lost")
            await greenlet_spawn(pooled.invalidate)
            await replica.engine.dispose(close=False)
            return False
        self._engine, self._pooled, self._replica = replica.engine, pooled, replica
        self._pool = pool
        self._driver = pooled.driver_connection
        replica.readers.add(self._driver)
        if self._setup is not None:  # behind PgBouncer: its transaction first, on the standby
            try:
                await self._begin()
            except DataStoreUnavailable as failure:
                lost = failure.__cause__
                if not (isinstance(lost, Exception) and is_disconnect(lost)):
                    raise
                await self._leave_standby(lost)
                return False
        return True

    def read(
        self, connection: Any, run: Callable[..., Awaitable[T]], sql: str, args: Sequence[Any]
    ) -> Awaitable[T]:
        """Await `run(connection, sql, *args)`, a read (see compiled.Reader); on a standby,
        run it again on the primary if the standby fails it."""
        if self._replica is None:
            return run(connection, sql, *args)  # no standby, no wrapper: the primary's reads
        return self._read_on_standby(connection, run, sql, args)

    async def _read_on_standby(
        self, connection: Any, run: Callable[..., Awaitable[T]], sql: str, args: Sequence[Any]
    ) -> T:
        try:
            return await run(connection, sql, *args)
        except Exception as error:
            if not is_disconnect(error):
                raise
            await self._leave_standby(error)
        return await run(await self.driver(write=False), sql, *args)

    async def _leave_standby(self, error: Exception) -> None:
        """Give up the standby that failed this unit (out of rotation, its connection and pool
        dropped); the unit goes on on the primary."""
        replica, pooled, replicas = self._replica, self._pooled, self._replicas
        assert replica is not None
        assert pooled is not None
        assert replicas is not None
        replica.readers.discard(pooled.driver_connection)
        if not replica.problem:  # else it was taken out first, which ended this read
            replicas.take_out(replica, f"a read failed ({type(error).__name__})")
        _log.warning("a read on replica %s failed: running it on the primary", replica.name)
        self._pooled = self._driver = self._replica = None
        self._in_transaction = False
        await self._discard(pooled, error, outage=True)  # the standby's pool, dropped too
        self._engine, self._fell_back = self._primary, True

    async def commit(self) -> None:
        self._check_active()
        if self._in_transaction:
            self._in_transaction = False
            with unavailable_on_outage():
                # Whether COMMIT succeeds or fails, the transaction is over on the server.
                await self._driver.execute("COMMIT;")

    async def rollback(self) -> None:
        self._check_active()
        if self._in_transaction:
            self._in_transaction = False
            with unavailable_on_outage():
                await self._driver.execute("ROLLBACK;")

    async def _begin(self) -> None:
        # Plain statements, not asyncpg's `transaction()`: its object and state checks cost
        # CPU on every write, and the unit tracks its one transaction itself (the default
        # isolation level, no savepoints: the repository makes those with plain statements).
        # The texts are asyncpg's own, so traces name the statements as before.
        with unavailable_on_outage():
            await self._driver.execute("BEGIN;")
            self._in_transaction = True
            if self._setup is not None:
                await self._driver.execute(self._setup.sql, *self._setup.args)

    async def _end_driver_use(self, exc: BaseException | None) -> None:
        """Roll back what was not committed and hand the connection back to the pool.

        A connection that lost its link, or that cannot roll back, must not go back to the
        pool: it is invalidated (and aborted, see engine.py) instead. A unit on a standby has
        read what it was to read: a standby that fails only at its ROLLBACK (behind PgBouncer)
        leaves the rotation, and the unit ends without an error.
        """
        pooled, self._pooled, driver, self._driver = self._pooled, None, self._driver, None
        in_transaction, self._in_transaction = self._in_transaction, False
        assert pooled is not None
        replica = self._replica
        if self._read_only and self._replicas is not None:
            # Counted at the end: a read the standby failed is the primary's.
            self._replicas.count_read("primary" if replica is None else "replica")
        error = None if exc is None else exc.__cause__ or exc
        if isinstance(error, Exception) and is_disconnect(error):
            await self._discard(pooled, error, outage=True)
            return
        try:
            if in_transaction:
                with unavailable_on_outage():
                    await driver.execute("ROLLBACK;")
        except BaseException as failure:  # cancelled too: the connection's state is unknown
            lost = isinstance(failure, DataStoreUnavailable) and is_disconnect(failure.__cause__)
            await self._discard(
                pooled,
                failure if isinstance(failure, Exception) else None,
                outage=lost and replica is not None,
            )
            if not (lost and replica is not None and exc is None):
                raise
            return
        finally:
            if replica is not None:
                replica.readers.discard(pooled.driver_connection)
        if exc is None and not self._read_only and self._replicas is not None:
            await self._acknowledge(pooled, self._replicas)
        await self._check_in(pooled)

    async def _check_in(self, pooled: PoolProxiedConnection) -> None:
        """Hand the connection back to its pool.

        Returning it awaits only when the pool is full and closes it instead (an overflow
        connection), since nothing is reset on return (see engine.py); otherwise it is the
        pool's bookkeeping alone, run here without the greenlet an await would need (that
        greenlet cost about 4 % of a write's CPU).
        """
        pool, self._pool = self._pool, None
        if isinstance(pool, QueuePool) and pool.checkedin() < pool.size():
            pooled.close()
        else:
            await greenlet_spawn(pooled.close)

    async def _acknowledge(self, pooled: PoolProxiedConnection, replicas: ReplicaSet) -> None:
        if not replicas.tracking:
            return
        driver: Any = pooled.driver_connection
        try:
            with unavailable_on_outage():
                replicas.acknowledge(await driver.fetchval(CURRENT_LSN_SQL))
        except BaseException as failure:
            await self._discard(pooled, failure if isinstance(failure, Exception) else None)
            raise

    async def _discard(
        self, pooled: PoolProxiedConnection, error: Exception | None, *, outage: bool = False
    ) -> None:
        """Invalidate the connection (aborting it, see engine.py) instead of pooling it again.

        Statements on the driver bypass SQLAlchemy's own disconnect handling, so on an outage
        this does what it would: the pool is replaced too, since the connections it holds most
        likely died in the same outage.
        """
        await greenlet_spawn(pooled.invalidate, error)
        if outage:
            await self._engine.dispose(close=False)
            if self._replica is not None and self._replicas is not None:
                self._replicas.take_out(self._replica, "connection lost")

    def _check_active(self) -> None:
        if not self._active:
            raise RuntimeError("the unit of work is used outside its `async with` block")
