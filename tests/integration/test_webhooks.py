"""Webhook delivery against a real receiver on loopback: signed, every event at least once, in
order per item, through a receiver that fails for a while; a 410 disables the subscription;
private targets are refused unless allowed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from application.events import FeedEntry
from application.webhooks import ManageWebhooks, TargetRefused
from domain.item import Item, NewItem, utc_now
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.webhooks import (
    DispatchSettings,
    SqlSubscriptionStore,
    TargetPolicy,
    WebhookDispatcher,
)
from tests.support.receiver import Receiver, ReceiverServer, assert_exactly_the_feed

pytestmark = pytest.mark.db

#: Short waits, so that retries happen within the test (the promise is the same at any scale).
FAST = DispatchSettings(timeout=5, retry_base=0.05, retry_cap=0.5, poll=0.05)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, ReceiverServer]]:
    receiver = Receiver()
    with ReceiverServer(receiver) as server:
        yield receiver, server


async def _subscribe(engine: AsyncEngine, url: str, receiver: Receiver) -> None:
    manage = ManageWebhooks(SqlSubscriptionStore(lambda: engine), TargetPolicy(allow_private=True))
    subscription = await manage.add(url)
    receiver.secret = subscription.secret


async def _burst(engine: AsyncEngine, items: int, adjustments: int) -> list[Item]:
    created = [
        Item.create(NewItem.parse({"sku": f"H-{n}", "name": "n", "price": "1"}))
        for n in range(items)
    ]

    async def life(item: Item) -> None:
        async with SqlUnitOfWork(engine) as uow:
            await uow.items.add(item)
            await uow.commit()
        for _ in range(adjustments):
            async with SqlUnitOfWork(engine) as uow:
                await uow.items.adjust_stock(item.id, 1, now=utc_now())
                await uow.commit()

    await asyncio.gather(*(life(item) for item in created))
    return created


async def _feed(engine: AsyncEngine, count: int) -> list[FeedEntry]:
    """The feed once it holds `count` events: an event shows when every older transaction on
    the server has ended (other tests use its other databases), so wait for that, within bounds."""
    for _ in range(300):
        async with SqlUnitOfWork(engine).read_only() as uow:
            entries = await uow.events.read(None, 1000)
        if len(entries) >= count:
            break
        await asyncio.sleep(0.1)
    return entries


async def _dispatch_until(
    engine: AsyncEngine, receiver: Receiver, count: int, settings: DispatchSettings = FAST
) -> None:
    """Run a dispatcher until the receiver holds `count` distinct events (within bounds)."""
    stop = asyncio.Event()
    dispatcher = asyncio.create_task(
        WebhookDispatcher(engine, TargetPolicy(allow_private=True), settings).run(stop)
    )
    try:
        for _ in range(600):
            if len(receiver.unique()) >= count:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await dispatcher


@pytest.mark.parametrize("failing_for", [1.0])
async def test_a_receiver_failing_for_a_while_then_gets_everything_in_order(
    engine: AsyncEngine,
    receiver: tuple[Receiver, ReceiverServer],
    failing_for: float,
) -> None:
    got, server = receiver
    await _subscribe(engine, server.url, got)
    await _burst(engine, items=8, adjustments=4)
    feed = await _feed(engine, 8 * 5)
    assert len(feed) == 8 * 5
    got.fail_for(failing_for)
    await _dispatch_until(engine, got, len(feed))
    assert got.failures > 0  # it did fail, and was retried
    assert_exactly_the_feed(got, feed)
    first = got.unique()[f"evt_{feed[0].event.id}"].body
    assert first["type"] == "item.created"
    assert first["data"]["cursor"] == feed[0].cursor


async def test_a_410_disables_the_subscription(
    engine: AsyncEngine, receiver: tuple[Receiver, ReceiverServer]
) -> None:
    got, server = receiver
    await _subscribe(engine, server.url, got)
    got.fail_for(3600, status=410)
    await _burst(engine, items=1, adjustments=0)
    stop = asyncio.Event()
    dispatcher = WebhookDispatcher(engine, TargetPolicy(allow_private=True), FAST)
    task = asyncio.create_task(dispatcher.run(stop))
    store = SqlSubscriptionStore(lambda: engine)
    for _ in range(200):
        if not (await store.list())[0].active:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert not (await store.list())[0].active
    assert got.failures == 1  # not retried


async def test_private_targets_are_refused_unless_allowed(engine: AsyncEngine) -> None:
    manage = ManageWebhooks(SqlSubscriptionStore(lambda: engine), TargetPolicy(allow_private=False))
    for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://169.254.169.254/x"):
        with pytest.raises(TargetRefused):
            await manage.add(url)
    assert await SqlSubscriptionStore(lambda: engine).list() == []
    allowed = ManageWebhooks(SqlSubscriptionStore(lambda: engine), TargetPolicy(allow_private=True))
    assert (await allowed.add("http://127.0.0.1:9/x")).url == "http://127.0.0.1:9/x"


async def test_deliveries_retry_for_a_bounded_time_then_give_up(
    engine: AsyncEngine, receiver: tuple[Receiver, ReceiverServer]
) -> None:
    got, server = receiver
    await _subscribe(engine, server.url, got)
    got.fail_for(3600)
    await _burst(engine, items=1, adjustments=0)
    settings = DispatchSettings(
        timeout=5, retry_base=0.01, retry_cap=0.05, poll=0.05, retry_for=timedelta(seconds=1)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        WebhookDispatcher(engine, TargetPolicy(allow_private=True), settings).run(stop)
    )
    async with engine.connect() as connection:
        from sqlalchemy import text  # noqa: PLC0415

        for _ in range(200):
            status = (
                await connection.execute(text("SELECT status FROM webhook_deliveries"))
            ).scalar_one_or_none()
            await connection.commit()
            if status not in {None, "pending"}:
                break
            await asyncio.sleep(0.05)
    stop.set()
    await task
    assert status == "failed"
    assert got.failures > 1


async def _one_attempt(engine: AsyncEngine, settings: DispatchSettings) -> tuple[float, str]:
    """Run a dispatcher until the first attempt is recorded: the seconds until the next one,
    and the error it recorded."""
    from sqlalchemy import text  # noqa: PLC0415

    stop = asyncio.Event()
    task = asyncio.create_task(
        WebhookDispatcher(engine, TargetPolicy(allow_private=True), settings).run(stop)
    )
    query = text(
        "SELECT extract(epoch FROM next_attempt_at - now()), last_error FROM webhook_deliveries"
    )
    try:
        for _ in range(400):
            async with engine.connect() as connection:
                row = (await connection.execute(query)).first()
            if row is not None and row[1] is not None:
                return float(row[0]), str(row[1])
            await asyncio.sleep(0.05)
        raise AssertionError("no attempt was recorded")
    finally:
        stop.set()
        await task


async def test_retry_after_is_honoured(
    engine: AsyncEngine, receiver: tuple[Receiver, ReceiverServer]
) -> None:
    got, server = receiver
    await _subscribe(engine, server.url, got)
    got.fail_for(3600, status=503)
    got.retry_after = "120"
    await _burst(engine, items=1, adjustments=0)
    settings = DispatchSettings(timeout=5, retry_base=0.05, retry_cap=600, poll=0.05)
    wait, error = await _one_attempt(engine, settings)
    assert error == "HTTP 503"
    assert wait > 60  # the receiver's 120 s, not the backoff's fraction of a second


async def test_an_attempt_that_outlasts_its_timeout_fails_and_is_retried(
    engine: AsyncEngine, receiver: tuple[Receiver, ReceiverServer]
) -> None:
    got, server = receiver
    await _subscribe(engine, server.url, got)
    got.delay = 2.0
    await _burst(engine, items=1, adjustments=0)
    settings = DispatchSettings(timeout=0.2, retry_base=30, retry_cap=60, poll=0.05)
    wait, error = await _one_attempt(engine, settings)
    assert "Timeout" in error
    assert wait > 5  # retried later, with backoff
