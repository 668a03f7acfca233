"""A read-only unit of work on a standby: choosing one, and leaving it for the primary when it
fails a read (only reads run there, so the primary can run it again unseen)."""

from __future__ import annotations

import logging

from infrastructure.db.connection import PooledConnection
from infrastructure.db.engine import TransactionSetup
from infrastructure.db.errors import is_disconnect, is_recovery_conflict, unavailable_on_outage
from infrastructure.db.replicas import Replica, ReplicaSet

_log = logging.getLogger(__name__)


async def connect_standby(
    replicas: ReplicaSet, setup: TransactionSetup | None
) -> tuple[Replica | None, PooledConnection | None]:
    """A connection to a standby fresh enough for the current read; Nones: read on the primary."""
    replica = replicas.choose()
    if replica is None:
        return None, None
    try:
        connection = await PooledConnection.check_out(replica.engine)
    except Exception as error:
        replicas.take_out(replica, f"cannot connect ({type(error).__name__})")
        await replica.engine.dispose(close=False)
        return None, None
    if connection.is_closed():
        replicas.take_out(replica, "connection lost")
        await connection.discard(None, with_pool=True)
        return None, None
    replica.readers.add(connection.driver)
    if setup is not None:  # behind PgBouncer: its transaction first, on the standby
        try:
            await connection.begin(setup)
        except Exception as error:
            if is_disconnect(error):
                await give_up_standby(replicas, replica, connection, error)
                return None, None
            replica.readers.discard(connection.driver)
            await connection.discard(error)
            with unavailable_on_outage():
                raise
    return replica, connection


async def give_up_standby(
    replicas: ReplicaSet, replica: Replica, connection: PooledConnection, error: Exception
) -> None:
    """Drop the standby connection that failed a read; a standby that failed (rather than
    cancelled the read to replay WAL) also leaves the rotation, and its pool is dropped."""
    replica.readers.discard(connection.driver)
    if is_recovery_conflict(error):
        _log.info("a read on replica %s conflicted with recovery: run on the primary", replica.name)
        await connection.discard(error)
        return
    if not replica.problem:  # else it was taken out first, which ended this read
        replicas.take_out(replica, f"a read failed ({type(error).__name__})")
    _log.warning("a read on replica %s failed: running it on the primary", replica.name)
    await connection.discard(error, with_pool=True)


async def end_standby_read(
    replicas: ReplicaSet,
    replica: Replica,
    connection: PooledConnection,
    error: BaseException | None,
) -> None:
    """Hand the standby connection back; one lost only at its ROLLBACK leaves the rotation
    without failing the unit, whose reads were answered."""
    replica.readers.discard(connection.driver)
    if isinstance(error, Exception) and is_disconnect(error):
        replicas.take_out(replica, "connection lost")
        await connection.discard(error, with_pool=True)
        return
    try:
        if connection.in_transaction:
            await connection.rollback()
    except BaseException as failure:  # cancelled too: the connection's state is unknown
        lost = is_disconnect(failure)
        await connection.discard(
            failure if isinstance(failure, Exception) else None, with_pool=lost
        )
        if not lost:
            raise
        replicas.take_out(replica, "connection lost")
        if error is not None:
            with unavailable_on_outage():
                raise
        return
    await connection.check_in()
