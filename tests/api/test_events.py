"""GET /v1/events: the change feed by page, over the API's own writes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from infrastructure.container import Container
from infrastructure.db.events import EventPurger
from tests.api.helpers import assert_problem, create


async def _feed(client: httpx.AsyncClient, count: int, **params: Any) -> list[dict[str, Any]]:
    """The feed from its start once it holds `count` events: an event shows when every older
    transaction on the server has ended (other tests use its other databases), so wait for
    that, within bounds."""
    for _ in range(300):
        response = await client.get("/v1/events", params={"limit": 1000, **params})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.1)
    return items


async def test_each_change_through_the_api_is_an_event_in_order(client: httpx.AsyncClient) -> None:
    item = await create(client, "ev-1", quantity=1)
    url = f"/v1/items/{item['id']}"
    assert (await client.patch(url, json={"name": "Renamed"})).status_code == 200
    adjusted = await client.post(f"{url}/stock-adjustments", json={"delta": 4})
    assert adjusted.status_code == 200
    batch = await client.post(
        "/v1/items/batch",
        json={
            "items": [
                {"sku": "ev-2", "name": "B", "price": "1"},
                {"sku": "ev-3", "name": "C", "price": "2"},
            ]
        },
    )
    assert batch.status_code == 201
    assert (await client.delete(url)).status_code == 204

    events = await _feed(client, 6)
    assert [(e["type"], e["sku"], e["version"]) for e in events] == [
        ("item.created", "EV-1", 1),
        ("item.updated", "EV-1", 2),
        ("item.stock_adjusted", "EV-1", 3),
        ("item.created", "EV-2", 1),
        ("item.created", "EV-3", 1),
        ("item.deleted", "EV-1", 3),
    ]
    assert events[0]["changes"] == {
        "sku": "EV-1",
        "name": "Widget",
        "description": None,
        "price": "12.50",
        "quantity": 1,
    }
    assert events[1]["changes"] == {"name": "Renamed"}
    assert events[2]["changes"] == {"quantity": 5}
    assert events[5]["changes"] == {}
    assert events[0]["item_id"] == item["id"]
    assert events[0]["occurred_at"].endswith("Z")
    assert len({e["id"] for e in events}) == len({e["cursor"] for e in events}) == 6


async def test_refused_writes_leave_no_event(client: httpx.AsyncClient) -> None:
    item = await create(client, "ev-4")
    refused = await client.post(f"/v1/items/{item['id']}/stock-adjustments", json={"delta": -1})
    assert refused.status_code == 409
    duplicate = await client.post("/v1/items", json={"sku": "ev-4", "name": "x", "price": "1"})
    assert duplicate.status_code == 409
    await create(client, "ev-5")
    assert [e["sku"] for e in await _feed(client, 2)] == ["EV-4", "EV-5"]


async def test_pages_follow_next_cursor_and_filters_narrow(client: httpx.AsyncClient) -> None:
    first = await create(client, "ev-6")
    await create(client, "ev-7")
    await client.post(f"/v1/items/{first['id']}/stock-adjustments", json={"delta": 2})
    everything = await _feed(client, 3)

    walked: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = (await client.get("/v1/events", params=params)).json()
        if not page["items"]:
            assert page["next_cursor"] == params.get("after")  # where to poll from
            break
        walked += page["items"]
        params["after"] = page["next_cursor"]
    assert walked == everything

    by_item = await _feed(client, 2, item_id=first["id"])
    assert [e["type"] for e in by_item] == ["item.created", "item.stock_adjusted"]
    by_type = await _feed(client, 2, type=["item.created"])
    assert [e["sku"] for e in by_type] == ["EV-6", "EV-7"]


@pytest.mark.parametrize(
    "cursor",
    ["x", "", "MS4xLjE", "MC4w", "MS4wMQ", "MDEuMQ", "OTk5OTk5OTk5OTk5OTk5OTk5OS4x", "ab==", "%00"],
)
async def test_a_cursor_the_service_did_not_issue_is_400(
    client: httpx.AsyncClient, cursor: str
) -> None:
    body = assert_problem(await client.get("/v1/events", params={"after": cursor}), 400)
    assert body["type"] == "/problems/invalid-cursor"


async def test_stream_refuses_a_bad_last_event_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events/stream", headers={"Last-Event-ID": "nope"})
    assert_problem(response, 400)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"type": "item.moved"}])
async def test_bad_parameters_are_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    assert_problem(await client.get("/v1/events", params=params), 422)


async def test_a_cursor_behind_purged_events_is_410(
    client: httpx.AsyncClient, container: Container
) -> None:
    await create(client, "ev-8")
    await create(client, "ev-9")
    early = (await _feed(client, 2))[0]["cursor"]
    assert await EventPurger(container.engine(), timedelta(hours=1))() == 0  # within retention
    purged = await EventPurger(container.engine(), timedelta(microseconds=1), batch=1)()
    assert purged == 2
    body = assert_problem(await client.get("/v1/events", params={"after": early}), 410)
    assert body["type"] == "/problems/cursor-expired"
    assert "retention" in body["detail"]
    # Nothing was purged after the feed's newest event: a cursor there reads on.
    await create(client, "ev-10")
    assert [e["sku"] for e in await _feed(client, 1)] == ["EV-10"]


async def test_the_openapi_document_describes_the_feed(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    listing = paths["/v1/events"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"after", "limit", "item_id", "type"}
    assert "410" in listing["responses"]
    assert "text/event-stream" in paths["/v1/events/stream"]["get"]["responses"]["200"]["content"]
