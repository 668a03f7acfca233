"""Webhook subscriptions: who is sent which events. Delivery itself is infrastructure's
(infrastructure/webhooks.py): signed, at least once, in order per item, retried."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol
from urllib.parse import urlsplit
from uuid import UUID

from application.errors import ApplicationError
from domain.errors import FieldError, ItemValidationError
from domain.events import EventType

URL_MAX: Final = 2048
SECRET_PREFIX: Final = "whsec_"  # noqa: S105  (the format's prefix, not a secret)


class SubscriptionNotFound(ApplicationError):
    def __init__(self, subscription_id: UUID) -> None:
        super().__init__(f"no webhook subscription {subscription_id}")


class TargetRefused(ApplicationError):
    """A URL whose host is on a loopback, link-local or private network (or does not resolve)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: UUID
    url: str
    event_types: frozenset[EventType]  # empty: every type
    secret: str
    active: bool
    created_at: datetime

    def wants(self, event_type: EventType) -> bool:
        return not self.event_types or event_type in self.event_types


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def parse_subscription(
    url: str, event_types: Sequence[str], secret: str | None
) -> tuple[str, frozenset[EventType], str]:
    errors: list[FieldError] = []
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (
        len(url) > URL_MAX
        or not url.isascii()
        or not url.isprintable()
        or parts.scheme not in {"http", "https"}
        or not parts.hostname
        or not port_ok
    ):
        errors.append(FieldError("url", f"must be an http(s) URL of at most {URL_MAX} characters"))
    types: set[EventType] = set()
    for index, name in enumerate(event_types):
        try:
            types.add(EventType(name))
        except ValueError:
            choices = ", ".join(t.value for t in EventType)
            errors.append(FieldError(f"event_types.{index}", f"must be one of {choices}"))
    if secret is not None:
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except ValueError:
            key = b""
        if not 24 <= len(key) <= 48:
            errors.append(FieldError("secret", "must be whsec_ and 24 to 48 bytes in base64"))
    if errors:
        raise ItemValidationError(errors)
    return url, frozenset(types), secret or new_secret()


class SubscriptionStore(Protocol):
    async def add(
        self, url: str, event_types: frozenset[EventType], secret: str
    ) -> Subscription: ...

    async def list(self) -> list[Subscription]: ...

    async def remove(self, subscription_id: UUID) -> bool:
        """False when there was no such subscription."""


#: Resolves the URL's host and raises TargetRefused when it may not be called.
TargetCheck = Callable[[str], Awaitable[None]]


class ManageWebhooks:
    def __init__(self, store: SubscriptionStore, check_target: TargetCheck) -> None:
        self._store = store
        self._check = check_target

    async def add(
        self, url: str, event_types: Sequence[str] = (), secret: str | None = None
    ) -> Subscription:
        url, types, secret = parse_subscription(url, event_types, secret)
        await self._check(url)
        return await self._store.add(url, types, secret)

    async def list(self) -> list[Subscription]:
        return await self._store.list()

    async def remove(self, subscription_id: UUID) -> None:
        if not await self._store.remove(subscription_id):
            raise SubscriptionNotFound(subscription_id)
