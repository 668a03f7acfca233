"""The async unit of work: one pooled connection and its transaction; rolls back unless committed.

Reads need no transaction (a statement is its own snapshot): the first write begins one.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine

from application.errors import DataStoreUnavailable
from infrastructure.db.connection import PooledConnection
from infrastructure.db.engine import DEFAULT_COMMAND_TIMEOUT, TransactionSetup
from infrastructure.db.errors import standby_failed, unavailable_on_outage
from infrastructure.db.events import SqlEventFeed
from infrastructure.db.idempotency import SqlIdempotencyStore
from infrastructure.db.replicas import Replica, ReplicaSet
from infrastructure.db.repository import SqlItemRepository
from infrastructure.db.standby_reads import connect_standby, end_standby_read, give_up_standby


class SqlUnitOfWork:
    def __init__(
        self,
        engine: AsyncEngine,
        idempotency_ttl: timedelta = timedelta(hours=24),
        transaction_setup: TransactionSetup | None = None,
        replicas: ReplicaSet | None = None,
        commit_timeout: float = DEFAULT_COMMAND_TIMEOUT,
    ) -> None:
        self._primary = engine
        self._setup = transaction_setup
        self._idempotency_ttl = idempotency_ttl
        self._replicas = replicas
        self._commit_timeout = commit_timeout
        self._read_only = self._active = self._fell_back = self._wrote = False
        self._connection: PooledConnection | None = None
        self._replica: Replica | None = None  # the standby this unit reads on, if any

    def read_only(self) -> Self:
        self._read_only = True
        return self

    async def __aenter__(self) -> Self:
        self._active = True
        self.items = SqlItemRepository(self)
        self.idempotency = SqlIdempotencyStore(self, self._idempotency_ttl)
        self.events = SqlEventFeed(self)
        return self

    async def __aexit__(self, _: object, exc: BaseException | None, __: object) -> None:
        self._active = False
        try:
            if self._connection is not None:
                await self._end(exc)
        finally:
            if self._wrote and self._replicas is not None:
                self._replicas.writes.observe(exc)
            self._read_only = self._fell_back = self._wrote = False

    # Plain methods handing back `_run`'s coroutine: a coroutine of their own would be one more
    # frame to resume on every statement.
    def fetchrow(self, sql: str, *args: Any, write: bool = False) -> Coroutine[Any, Any, Any]:
        return self._run("fetchrow", sql, args, write)

    def fetch(self, sql: str, *args: Any, write: bool = False) -> Coroutine[Any, Any, Any]:
        return self._run("fetch", sql, args, write)

    def fetchval(self, sql: str, *args: Any, write: bool = False) -> Coroutine[Any, Any, Any]:
        return self._run("fetchval", sql, args, write)

    def execute(self, sql: str, *args: Any) -> Coroutine[Any, Any, Any]:
        return self._run("execute", sql, args, True)

    async def driver(self, *, write: bool = False) -> Any:
        """This unit's asyncpg connection, in its transaction when `write`."""
        return (await self._connection_for(write)).driver

    async def _run(self, method: str, sql: str, args: tuple[Any, ...], write: bool) -> Any:
        connection = await self._connection_for(write)
        with unavailable_on_outage():
            try:  # the method looked up as it runs: tracing wraps asyncpg's
                return await getattr(connection.driver, method)(sql, *args)
            except Exception as error:
                if self._replica is None or self._replicas is None or not standby_failed(error):
                    raise
                replica, self._replica, self._connection = self._replica, None, None
                self._fell_back = True
                await give_up_standby(self._replicas, replica, connection, error)
            connection = await self._connection_for(write)
            return await getattr(connection.driver, method)(sql, *args)

    async def _connection_for(self, write: bool) -> PooledConnection:
        if write and self._read_only:
            raise RuntimeError("a read-only unit of work cannot write")
        self._wrote = self._wrote or write
        if self._connection is None:
            self._check_active()
            if self._read_only and self._replicas is not None and not self._fell_back:
                self._replica, self._connection = await connect_standby(self._replicas, self._setup)
            if self._connection is None:
                with unavailable_on_outage():
                    self._connection = await PooledConnection.check_out(self._primary)
        if (write or self._setup is not None) and not self._connection.in_transaction:
            with unavailable_on_outage():
                await self._connection.begin(self._setup)
        return self._connection

    async def commit(self) -> None:
        self._check_active()
        if self._connection is not None and self._connection.in_transaction:
            with unavailable_on_outage():
                await self._connection.commit(self._commit_timeout)

    async def rollback(self) -> None:
        self._check_active()
        if self._connection is not None and self._connection.in_transaction:
            with unavailable_on_outage():
                await self._connection.rollback()

    async def _end(self, exc: BaseException | None) -> None:
        connection, replica, replicas = self._connection, self._replica, self._replicas
        self._connection = self._replica = None
        assert connection is not None
        error = None if exc is None else exc.__cause__ or exc
        if self._read_only and replicas is not None:
            replicas.count_read("primary" if replica is None else "replica")
        if replica is not None and replicas is not None:
            await end_standby_read(replicas, replica, connection, error)
            return
        # Read-your-writes: the position later reads must see (that of a replayed write too).
        wrote = exc is None and self._wrote
        committed = wrote and not connection.in_transaction
        acknowledge = None  # without standbys no read can be stale: no position to read
        if wrote and replicas is not None and replicas.tracking:
            acknowledge = replicas.acknowledge_write
        try:
            with unavailable_on_outage():
                await connection.release(error, then=acknowledge)
        except DataStoreUnavailable:
            if replicas is None or not committed:
                raise
            replicas.position_unknown()  # the write stands: only its position went

    def _check_active(self) -> None:
        if not self._active:
            raise RuntimeError("the unit of work is used outside its `async with` block")
