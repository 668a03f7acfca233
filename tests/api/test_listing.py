"""GET /v1/items: keyset pages, filters, sorts, Link headers and cursor errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.helpers import assert_problem


async def seed(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    rows = [
        {"sku": f"s{i:04}", "name": f"Name {i % 10}", "price": f"{i % 7}.25", "quantity": i % 3}
        for i in range(count)
    ]
    response = await client.post("/v1/items/batch", json={"items": rows})
    assert response.status_code == 201
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def walk(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(body["items"])
        link = response.headers.get("link")
        if body["next_cursor"] is None:
            assert link is None
            next_url = None
        else:
            assert link is not None
            assert link.endswith('>; rel="next"')
            next_url = link[1 : link.index(">")]
    return seen


async def test_default_page_is_50_oldest_first(client: httpx.AsyncClient) -> None:
    items = await seed(client, 60)
    body = (await client.get("/v1/items")).json()
    assert [i["id"] for i in body["items"]] == [i["id"] for i in items[:50]]
    assert body["next_cursor"]


async def test_every_sort_walks_every_item_once_in_order(client: httpx.AsyncClient) -> None:
    await seed(client, 45)
    for sort in ["created_at", "-created_at", "name", "-name", "price", "-price", "sku", "-sku"]:
        seen = await walk(client, f"/v1/items?limit=7&sort={sort}")
        assert len({i["id"] for i in seen}) == 45 == len(seen), sort
        field = sort.lstrip("-")

        def key(item: dict[str, Any], field: str = field) -> tuple[Any, str]:
            if field == "price":
                return float(item[field]), item["id"]
            return item[field].lower() if field == "name" else item[field], item["id"]

        assert [key(i) for i in seen] == sorted(map(key, seen), reverse=sort.startswith("-"))


async def test_filters_combine_and_are_kept_in_the_next_link(client: httpx.AsyncClient) -> None:
    await seed(client, 70)
    seen = await walk(
        client, "/v1/items?limit=3&q=name%203&min_price=1&max_price=4.25&in_stock=true"
    )
    assert seen
    for item in seen:
        assert "Name 3" in item["name"]
        assert 1 <= float(item["price"]) <= 4.25
        assert item["quantity"] > 0
    everything = (await client.get("/v1/items?limit=200")).json()["items"]
    expected = [
        i
        for i in everything
        if "name 3" in i["name"].lower() and 1 <= float(i["price"]) <= 4.25 and i["quantity"] > 0
    ]
    assert [i["id"] for i in seen] == [i["id"] for i in expected]


async def test_walking_while_others_write_skips_nothing_that_existed_throughout(
    client: httpx.AsyncClient,
) -> None:
    items = await seed(client, 60)
    survivors = {i["id"] for i in items[::2]}
    doomed = list(items[1::2])

    async def churn() -> None:
        for n, item in enumerate(doomed):
            await client.delete(f"/v1/items/{item['id']}")
            await client.post("/v1/items", json={"sku": f"new-{n}", "name": "x", "price": 1})

    walker = asyncio.create_task(walk(client, "/v1/items?limit=4&sort=name"))
    await churn()
    seen = await walker
    ids = [i["id"] for i in seen]
    assert len(ids) == len(set(ids)), "a row was returned twice"
    assert survivors <= set(ids), "a row that existed throughout was skipped"


async def test_bad_cursors_are_400(client: httpx.AsyncClient) -> None:
    await seed(client, 3)
    body = (await client.get("/v1/items?limit=1&sort=name")).json()
    assert_problem(await client.get(f"/v1/items?sort=price&cursor={body['next_cursor']}"), 400)
    for cursor in ["garbage", "e30", "WyJuYW1lIiwxLDJd", "%00"]:
        problem = assert_problem(await client.get(f"/v1/items?cursor={cursor}"), 400)
        assert problem["type"] == "/problems/invalid-cursor"


async def test_bad_parameters_are_422(client: httpx.AsyncClient) -> None:
    for query in [
        "limit=0",
        "limit=201",
        "limit=x",
        "sort=colour",
        "min_price=-1",
        "max_price=abc",
        "in_stock=maybe",
        f"q={'x' * 201}",
        "limit=5&limit=7",
        "sort=name&sort=price",
        "q=a&q=b",
    ]:
        problem = assert_problem(await client.get(f"/v1/items?{query}"), 422)
        assert problem["errors"][0]["parameter"] == query.split("=")[0]


async def test_names_sort_without_regard_to_case(client: httpx.AsyncClient) -> None:
    names = ["Zebra", "apple", "Apple", "banana", "ZEBRA", "Banana", "aardvark"]
    rows = [{"sku": f"c-{i}", "name": name, "price": "1"} for i, name in enumerate(names)]
    assert (await client.post("/v1/items/batch", json={"items": rows})).status_code == 201
    for sort in ("name", "-name"):
        seen = [i["name"].lower() for i in await walk(client, f"/v1/items?limit=2&sort={sort}")]
        assert seen == sorted(seen, reverse=sort == "-name")


async def test_a_name_is_one_name_whatever_its_unicode_spelling(client: httpx.AsyncClient) -> None:
    decomposed = {"sku": "nfd-1", "name": "Cafe\u0301 noir", "price": "1"}
    created = await client.post("/v1/items", json=decomposed)
    assert created.json()["name"] == "Caf\u00e9 noir"
    for q in ("Caf\u00e9", "Cafe\u0301"):
        found = (await client.get("/v1/items", params={"q": q})).json()["items"]
        assert [i["sku"] for i in found] == ["NFD-1"], q
