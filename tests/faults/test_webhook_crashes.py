"""Webhooks through crashes: `kill -9` of the dispatcher mid-delivery, and of PostgreSQL in the
middle of a burst of writes. Every committed event reaches a real receiver at least once, every
signature verifies with the receiver's copy of the secret, de-duplicating by webhook-id leaves
exactly one of each, and per item the versions arrive in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from application.events import FeedEntry
from domain.item import Item, NewItem, utc_now
from infrastructure.db.engine import build_engine
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings
from tests.faults.cluster import Database, wait_until
from tests.servers import STOCKROOM, child_pids, environment
from tests.support.cluster import Cluster
from tests.support.receiver import Receiver, ReceiverServer, assert_exactly_the_feed

#: Quick retries and a short lease (the attempt's timeout and five seconds), so a delivery a
#: killed dispatcher held is sent again within the test.
DISPATCH_ENV = {
    "STOCKROOM_WEBHOOKS_ALLOW_PRIVATE": "true",
    "STOCKROOM_WEBHOOKS_RETRY_BASE": "0.05",
    "STOCKROOM_WEBHOOKS_RETRY_CAP": "0.5",
    "STOCKROOM_WEBHOOKS_TIMEOUT": "2",
}


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ReceiverServer]]:
    receiver = Receiver()
    with ReceiverServer(receiver) as server:
        yield receiver, server


def _env(database: Database) -> dict[str, str | None]:
    return {"STOCKROOM_DATABASE_URL": database.url, **DISPATCH_ENV}


def _subscribe(database: Database, url: str, receiver: Receiver) -> None:
    added = subprocess.run(
        [STOCKROOM, "webhooks", "add", url],
        env=environment(_env(database)),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    receiver.secret = json.loads(added.stdout)["secret"]


def _dispatcher(database: Database, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [STOCKROOM, "webhooks", "dispatch"],
            env=environment(_env(database)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def _write(url: str, items: int, adjustments: int, prefix: str) -> None:
    """Create items and adjust their stock; writes refused while the database is down are
    simply not committed (and have no event)."""
    engine = build_engine(url, Settings(database_url=url, _env_file=None))
    created = [
        Item.create(NewItem.parse({"sku": f"{prefix}-{n}", "name": "n", "price": "1"}))
        for n in range(items)
    ]

    async def life(item: Item) -> None:
        try:
            async with SqlUnitOfWork(engine) as uow:
                await uow.items.add(item)
                await uow.commit()
            for _ in range(adjustments):
                async with SqlUnitOfWork(engine) as uow:
                    await uow.items.adjust_stock(item.id, 1, now=utc_now())
                    await uow.commit()
                await asyncio.sleep(0.02)
        except Exception:
            return

    try:
        await asyncio.gather(*(life(item) for item in created))
    finally:
        await engine.dispose()


async def _feed(url: str) -> list[FeedEntry]:
    engine = build_engine(url, Settings(database_url=url, _env_file=None))
    try:
        entries: list[FeedEntry] = []
        async with SqlUnitOfWork(engine).read_only() as uow:
            while page := await uow.events.read(entries[-1].position if entries else None, 1000):
                entries += page
        return entries
    finally:
        await engine.dispose()


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def test_kill_9_of_the_dispatcher_mid_delivery(
    database: Database, receiver: tuple[Receiver, ReceiverServer], tmp_path: Path
) -> None:
    got, server = receiver
    _subscribe(database, server.url, got)
    asyncio.run(_write(database.url, items=10, adjustments=4, prefix="K"))
    feed = asyncio.run(_feed(database.url))
    assert len(feed) == 50
    # Deliveries stay in flight a while: the kill lands in the middle of some, which the
    # receiver then never takes in (their sender is gone before the answer).
    got.delay = 0.5
    first = _dispatcher(database, tmp_path / "dispatch.log")
    try:
        wait_until(lambda: len(got.received) >= 5, within=60, what="some deliveries")
    finally:
        _kill(first)
    got.delay = 0.0
    second = _dispatcher(database, tmp_path / "dispatch.log")
    try:
        wait_until(lambda: len(got.unique()) >= len(feed), within=120, what="every event")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, (tmp_path / "dispatch.log").read_text()
    finally:
        if second.poll() is None:
            _kill(second)
    assert_exactly_the_feed(got, feed)
    assert len(got.received) < 2 * len(feed)  # sent again: what was in flight, not everything


def _kill_postgres(cluster: Cluster) -> None:
    """SIGKILL the postmaster and every backend at once: PostgreSQL dies as in a crash."""
    postmaster = cluster.postmaster_pid()
    assert postmaster is not None
    processes = [postmaster, *child_pids(postmaster)]
    for pid in processes:
        with contextlib.suppress(ProcessLookupError):  # a backend may have gone already
            os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        return not any(Path(f"/proc/{pid}").exists() for pid in processes)

    wait_until(gone, within=30, what="PostgreSQL to die")


def test_kill_9_of_postgresql_mid_burst(
    cluster: Cluster,
    database: Database,
    receiver: tuple[Receiver, ReceiverServer],
    tmp_path: Path,
) -> None:
    got, server = receiver
    _subscribe(database, server.url, got)
    dispatcher = _dispatcher(database, tmp_path / "dispatch.log")
    try:
        burst = threading.Thread(
            target=lambda: asyncio.run(_write(database.url, items=20, adjustments=10, prefix="P"))
        )
        burst.start()
        wait_until(lambda: len(got.received) >= 20, within=60, what="deliveries under way")
        _kill_postgres(cluster)
        burst.join(120)
        cluster.start()  # crash recovery
        asyncio.run(_write(database.url, items=5, adjustments=2, prefix="Q"))
        feed = asyncio.run(_feed(database.url))
        wait_until(lambda: len(got.unique()) >= len(feed), within=120, what="every event")
        dispatcher.send_signal(signal.SIGTERM)
        assert dispatcher.wait(30) == 0, (tmp_path / "dispatch.log").read_text()
    finally:
        if dispatcher.poll() is None:
            _kill(dispatcher)
        cluster.ensure_running()
    assert_exactly_the_feed(got, feed)
