"""How a webhook subscription looks outside the process (HTTP and the CLI)."""

from __future__ import annotations

from typing import Any

from application.webhooks import Subscription


def present_subscription(subscription: Subscription, *, secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": subscription.id,
        "url": subscription.url,
        "event_types": sorted(t.value for t in subscription.event_types),
        "active": subscription.active,
        "created_at": subscription.created_at,
    }
    if secret:
        body["secret"] = subscription.secret
    return body
