"""Webhook delivery: subscriptions in PostgreSQL, deliveries made from the change feed, sent
signed per Standard Webhooks, at least once, in order per item, by any number of dispatchers.

Fan-out moves the feed position and adds the deliveries in one transaction, so no event is skipped
or fanned out twice. Claiming leases due deliveries (SKIP LOCKED, order per item) in a short
transaction: none stays open while a request is in flight, which would hold back the feed. A
dispatcher killed mid-delivery leaves its lease to run out, and the delivery is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import orjson
import uuid_utils
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook

from application.events import FeedEntry, FeedPosition, event_document
from application.webhooks import Subscription, TargetRefused
from domain.events import EventType, ItemEvent
from infrastructure.db.errors import unavailable_on_outage

_log = logging.getLogger("stockroom.webhooks")
_FANOUT_BATCH: Final = 500


_ADD: Final = text(
    "INSERT INTO webhook_subscriptions (id, url, event_types, secret, active, created_at) "
    "VALUES (:id, :url, :types, :secret, true, :now)"
)
_LIST: Final = text(
    "SELECT id, url, event_types, secret, active, created_at FROM webhook_subscriptions "
    "ORDER BY created_at, id"
)
_REMOVE: Final = text("DELETE FROM webhook_subscriptions WHERE id = :id RETURNING id")
_FORGET: Final = text(
    "UPDATE webhook_deliveries SET status = 'cancelled' "
    "WHERE subscription_id = :id AND status = 'pending'"
)


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=UUID(str(row[0])),
        url=row[1],
        event_types=frozenset(EventType(t) for t in row[2]),
        secret=row[3],
        active=row[4],
        created_at=row[5],
    )


class SqlSubscriptionStore:
    """`engine` is called at each use: building the HTTP app must not prepare the database."""

    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        self._engine = engine

    async def add(self, url: str, event_types: frozenset[EventType], secret: str) -> Subscription:
        subscription = Subscription(
            id=UUID(str(uuid_utils.uuid7())),
            url=url,
            event_types=event_types,
            secret=secret,
            active=True,
            created_at=datetime.now(UTC),
        )
        values = {
            "id": subscription.id,
            "url": url,
            "types": sorted(event_types),
            "secret": secret,
            "now": subscription.created_at,
        }
        with unavailable_on_outage():
            async with self._engine().begin() as connection:
                await connection.execute(_ADD, values)
        return subscription

    async def list(self) -> list[Subscription]:
        with unavailable_on_outage():
            async with self._engine().connect() as connection:
                rows = (await connection.execute(_LIST)).all()
        return [_subscription(row) for row in rows]

    async def remove(self, subscription_id: UUID) -> bool:
        with unavailable_on_outage():
            async with self._engine().begin() as connection:
                gone = (await connection.execute(_REMOVE, {"id": subscription_id})).first()
                if gone is not None:
                    await connection.execute(_FORGET, {"id": subscription_id})
        return gone is not None


class TargetPolicy:
    """Refuses URLs whose host resolves to a loopback, link-local, private, reserved, multicast
    or unspecified address (the service's own network), unless `allow_private`."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def __call__(self, url: str) -> None:
        if self._allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise TargetRefused("the URL's port is not a port number") from None
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port)
        except OSError:
            raise TargetRefused(f"the host {host!r} does not resolve") from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if (
                address.is_loopback
                or address.is_link_local
                or address.is_private
                or address.is_reserved
                or address.is_multicast
                or address.is_unspecified
            ):
                raise TargetRefused(
                    f"the host {host!r} is on a loopback, link-local or private network"
                )


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    timeout: float = 10.0
    retry_base: float = 5.0
    retry_cap: float = 3600.0
    retry_for: timedelta = timedelta(days=3)
    poll: float = 0.5
    batch: int = 50


_FANOUT_INIT: Final = text(
    "INSERT INTO webhook_fanout (singleton, xid, id) VALUES (true, 0, 0) "
    "ON CONFLICT (singleton) DO NOTHING"
)
# One statement, so no session ever sits idle in a transaction.
_FANOUT: Final = text("""
WITH position AS (
    SELECT xid, id FROM webhook_fanout FOR UPDATE SKIP LOCKED
), batch AS (
    SELECT e.xid, e.id, e.item_id, e.type FROM item_events e, position p
    WHERE (e.xid, e.id) > (p.xid, p.id)
    AND e.xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
    ORDER BY e.xid, e.id LIMIT :limit
), enqueued AS (
    INSERT INTO webhook_deliveries (subscription_id, event_xid, event_id, item_id)
    SELECT s.id, b.xid, b.id, b.item_id FROM batch b
    JOIN webhook_subscriptions s
    ON s.active AND (cardinality(s.event_types) = 0 OR b.type = ANY(s.event_types))
), last AS (
    SELECT xid, id FROM batch ORDER BY xid DESC, id DESC LIMIT 1
), moved AS (
    UPDATE webhook_fanout f SET xid = last.xid, id = last.id FROM last
)
SELECT count(*) FROM batch
""")

_CLAIM: Final = text("""
WITH due AS (
    SELECT d.id, d.event_xid, d.event_id FROM webhook_deliveries d
    JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.active
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
    AND NOT EXISTS (
        SELECT 1 FROM webhook_deliveries p
        WHERE p.status = 'pending' AND p.subscription_id = d.subscription_id
        AND p.item_id = d.item_id AND (p.event_xid, p.event_id) < (d.event_xid, d.event_id)
    )
    ORDER BY d.event_xid, d.event_id
    LIMIT :limit
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => :lease)
FROM due
JOIN webhook_subscriptions s ON true
LEFT JOIN item_events e ON e.xid = due.event_xid AND e.id = due.event_id
WHERE d.id = due.id AND s.id = d.subscription_id
RETURNING d.id, d.attempts, d.created_at, s.id, s.url, s.secret,
    due.event_xid, due.event_id, e.type, e.item_id, e.sku, e.version, e.changes, e.occurred_at
""")
_DELIVERED: Final = text(
    "UPDATE webhook_deliveries SET status = 'delivered', last_error = NULL WHERE id = :id"
)
_RETRY: Final = text(
    "UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => :delay), "
    "last_error = :error WHERE id = :id AND status = 'pending'"
)
_GIVE_UP: Final = text(
    "UPDATE webhook_deliveries SET status = 'failed', last_error = :error WHERE id = :id"
)
_DISABLE: Final = text("UPDATE webhook_subscriptions SET active = false WHERE id = :id")


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    attempts: int
    created_at: datetime
    subscription_id: UUID
    url: str
    secret: str
    event: FeedEntry | None  # None: purged before it could be sent (retention too short)


def _payload(entry: FeedEntry) -> bytes:
    """The Standard Webhooks envelope: the event's type, its time, and the event itself."""
    body = {
        "type": entry.event.type.value,
        "timestamp": entry.event.occurred_at,
        "data": event_document(entry),
    }
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


def _retry_after(value: str | None, cap: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), within `cap`."""
    if not value:
        return None
    try:
        seconds = float(int(value.strip()))
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), cap)


class WebhookDispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        policy: TargetPolicy,
        settings: DispatchSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._engine = engine
        self._policy = policy
        self._settings = settings or DispatchSettings()
        self._transport = transport
        self._rng = random.Random()  # noqa: S311  (jitter, not secrets)

    async def run(self, stop: asyncio.Event) -> None:
        """Fan out and deliver until `stop` is set; deliveries in flight then finish."""
        async with httpx.AsyncClient(
            timeout=self._settings.timeout, transport=self._transport, follow_redirects=False
        ) as client:
            initialised = False
            failing = 0  # consecutive failed steps
            while not stop.is_set():
                wait = self._settings.poll
                try:
                    if not initialised:
                        await self._execute(_FANOUT_INIT, {})
                        initialised = True
                    busy = await self.step(client)
                    failing = 0
                except Exception as error:  # the database away: go on
                    if not failing:
                        _log.warning("webhook dispatch failed (%s); retrying", type(error).__name__)
                    failing += 1
                    busy, wait = False, min(30.0, self._settings.poll * 2**failing)
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), wait)

    async def step(self, client: httpx.AsyncClient) -> bool:
        """One fan-out and one batch of deliveries; whether more is waiting to be done now."""
        fanned = await self.fan_out()
        claimed = await self._claim()
        await asyncio.gather(*(self._deliver(client, delivery) for delivery in claimed))
        # A fan-out short of a full batch has caught up: the next waits for the poll, or a
        # steady trickle of writes would keep the dispatcher spinning.
        return bool(claimed) or fanned >= _FANOUT_BATCH

    async def fan_out(self) -> int:
        rows = await self._execute(_FANOUT, {"limit": _FANOUT_BATCH})
        return int(rows[0][0])

    async def _claim(self) -> list[_Claimed]:
        lease = self._settings.timeout + 5
        rows = await self._execute(_CLAIM, {"limit": self._settings.batch, "lease": lease})
        return [
            _Claimed(
                id=row[0],
                attempts=row[1],
                created_at=row[2],
                subscription_id=UUID(str(row[3])),
                url=row[4],
                secret=row[5],
                event=None if row[8] is None else _entry(row[6:]),
            )
            for row in rows
        ]

    async def _execute(self, statement: Any, values: dict[str, Any]) -> list[Any]:
        """One statement on its own (autocommit): no session waits idle in a transaction."""
        with unavailable_on_outage():
            async with self._engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                result = await autocommit.execute(statement, values)
                return list(result.all()) if result.returns_rows else []

    async def _deliver(self, client: httpx.AsyncClient, delivery: _Claimed) -> None:
        if delivery.event is None:
            await self._record(_GIVE_UP, {"id": delivery.id, "error": "the event was purged"})
            return
        message_id = f"evt_{delivery.event.event.id}"
        payload = _payload(delivery.event)
        try:
            await self._policy(delivery.url)
            now = datetime.now(UTC)
            signature = Webhook(delivery.secret).sign(message_id, now, payload)
            response = await client.post(
                delivery.url,
                content=payload,
                headers={
                    "content-type": "application/json",
                    "webhook-id": message_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signature,
                },
            )
        except (httpx.HTTPError, TargetRefused) as error:
            await self._failed(delivery, f"{type(error).__name__}: {error}"[:200], None)
            return
        if 200 <= response.status_code < 300:
            await self._record(_DELIVERED, {"id": delivery.id})
        elif response.status_code == 410:
            _log.warning("webhook %s answered 410: subscription disabled", delivery.url)
            await self._record(_DISABLE, {"id": delivery.subscription_id})
            await self._record(_GIVE_UP, {"id": delivery.id, "error": "410 Gone"})
        else:
            retry_after = _retry_after(
                response.headers.get("retry-after"), self._settings.retry_cap
            )
            await self._failed(delivery, f"HTTP {response.status_code}", retry_after)

    async def _failed(self, delivery: _Claimed, error: str, retry_after: float | None) -> None:
        if datetime.now(UTC) - delivery.created_at >= self._settings.retry_for:
            await self._record(_GIVE_UP, {"id": delivery.id, "error": error})
            return
        if retry_after is None:
            ceiling = min(
                self._settings.retry_cap, self._settings.retry_base * 2 ** (delivery.attempts - 1)
            )
            retry_after = ceiling * self._rng.uniform(0.5, 1.0)
        await self._record(_RETRY, {"id": delivery.id, "delay": retry_after, "error": error})

    async def _record(self, statement: Any, values: dict[str, Any]) -> None:
        await self._execute(statement, values)


def _entry(row: Any) -> FeedEntry:
    xid, event_id, kind, item_id, sku, version, changes, occurred_at = row
    decoded = orjson.loads(changes) if isinstance(changes, str | bytes) else changes
    event = ItemEvent(
        event_id, EventType(kind), UUID(str(item_id)), sku, version, decoded, occurred_at
    )
    return FeedEntry(FeedPosition(xid, event_id), event)
