"""Concurrent request bursts spread over several servers (promises 1 and 2)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

#: Enough connections that every request of a burst is in flight at once.
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200)


def _spread(base_urls: Sequence[str], n: int) -> str:
    return base_urls[n % len(base_urls)]


async def race_decrements(
    base_urls: Sequence[str], item_id: str, *, requests: int = 100
) -> Counter[int]:
    """`requests` concurrent `{"delta": -1}` adjustments, round-robin over the servers."""
    async with httpx.AsyncClient(timeout=60, limits=LIMITS) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    f"{_spread(base_urls, n)}/v1/items/{item_id}/stock-adjustments",
                    json={"delta": -1},
                )
                for n in range(requests)
            )
        )
    return Counter(a.status_code for a in answers)


async def race_patches(
    base_urls: Sequence[str], item: dict[str, Any], *, requests: int = 8
) -> Counter[int]:
    """`requests` concurrent PATCHes all based on the same version (`If-Match`)."""
    async with httpx.AsyncClient(timeout=60, limits=LIMITS) as client:
        answers = await asyncio.gather(
            *(
                client.patch(
                    f"{_spread(base_urls, n)}/v1/items/{item['id']}",
                    json={"name": f"Writer {n}"},
                    headers={"If-Match": f'"{item["version"]}"'},
                )
                for n in range(requests)
            )
        )
    return Counter(a.status_code for a in answers)


async def assert_races_hold(base_urls: Sequence[str]) -> None:
    """Promise 1 (100 decrements of a stock of 10) and promise 2 (one winner per version)."""
    async with httpx.AsyncClient(base_url=base_urls[0], timeout=30) as client:
        created = await client.post(
            "/v1/items", json={"sku": "race-1", "name": "Raced", "price": "1.00", "quantity": 10}
        )
        assert created.status_code == 201, created.text
        item = created.json()

        statuses = await race_decrements(base_urls, item["id"])
        assert statuses == {200: 10, 409: 90}, statuses
        after = (await client.get(f"/v1/items/{item['id']}")).json()
        assert (after["quantity"], after["version"]) == (0, item["version"] + 10)

        statuses = await race_patches(base_urls, after)
        assert statuses == {200: 1, 412: 7}, statuses
        final = (await client.get(f"/v1/items/{item['id']}")).json()
        assert final["version"] == after["version"] + 1
        assert final["quantity"] == 0
