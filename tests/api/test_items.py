"""The /v1/items resource through the ASGI app, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx

from tests.api.helpers import assert_problem, create


async def test_create_returns_the_item_with_location_and_etag(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/items",
        json={"sku": "  abc-1 ", "name": "  Widget ", "price": 12.5, "quantity": 3},
    )
    assert response.status_code == 201
    item = response.json()
    assert response.headers["location"] == f"/v1/items/{item['id']}"
    assert response.headers["etag"] == '"1"'
    assert uuid.UUID(item["id"]).version == 7
    assert item["sku"] == "ABC-1"
    assert item["name"] == "Widget"
    assert item["price"] == "12.50"
    assert (item["quantity"], item["version"], item["description"]) == (3, 1, None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", item["created_at"])
    assert item["created_at"] == item["updated_at"]


async def test_get_returns_what_was_created(client: httpx.AsyncClient) -> None:
    item = await create(client, description="blue")
    response = await client.get(f"/v1/items/{item['id']}")
    assert response.status_code == 200
    assert response.json() == item
    assert response.headers["etag"] == '"1"'


async def test_get_with_a_matching_if_none_match_is_304(client: httpx.AsyncClient) -> None:
    item = await create(client)
    url = f"/v1/items/{item['id']}"
    response = await client.get(url, headers={"If-None-Match": '"1"'})
    assert response.status_code == 304
    assert response.headers["etag"] == '"1"'
    assert response.content == b""
    assert (await client.get(url, headers={"If-None-Match": 'W/"1", "7"'})).status_code == 304
    assert (await client.get(url, headers={"If-None-Match": '"2"'})).status_code == 200


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get(f"/v1/items/{uuid.uuid4()}"), 404)
    assert body["type"] == "/problems/item-not-found"
    body = assert_problem(await client.get("/v1/items/not-a-uuid"), 422)
    assert body["errors"][0]["parameter"] == "item_id"


async def test_duplicate_sku_is_409(client: httpx.AsyncClient) -> None:
    await create(client, "dup")
    body = assert_problem(
        await client.post("/v1/items", json={"sku": " DUP", "name": "x", "price": 1}), 409
    )
    assert body["type"] == "/problems/duplicate-sku"


async def test_invalid_fields_are_422_with_pointers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/items",
        json={
            "sku": "-bad",
            "name": " ",
            "price": "1.234",
            "quantity": -1,
            "description": "x" * 2001,
        },
    )
    body = assert_problem(response, 422)
    pointers = {e["pointer"] for e in body["errors"]}
    assert pointers == {"/sku", "/name", "/price", "/quantity", "/description"}
    assert all(e["detail"] for e in body["errors"])


async def test_wrong_types_and_unknown_fields_are_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/items",
        json={"sku": 5, "name": "x", "price": [1], "quantity": "3", "colour": "red"},
    )
    body = assert_problem(response, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/sku", "/price", "/quantity", "/colour"}


async def test_price_limits(client: httpx.AsyncClient) -> None:
    for price in ["10000000000", "-0.01", "NaN", "1e400", True]:
        response = await client.post("/v1/items", json={"sku": "p", "name": "x", "price": price})
        assert_problem(response, 422)
    item = await create(client, "p", price="9999999999.99")
    assert item["price"] == "9999999999.99"


SAMPLES = {
    "sku": [" ws1", "ws2\t", "\nws3 ", "ws4", "\x0bws5", "w s6", "\u00a0ws7"],
    "name": [" Widget ", "Widget", "\u200b", "\u3164", "\u202e", "\u2800 ", "x\u200b"],
    "price": [" 5", "5 ", "5\n", "05", "5.", "0", "0.5", "12.50", "00.5", ".5", "5.123"],
}


async def test_the_document_and_the_api_agree_on_skus_names_and_prices(
    client: httpx.AsyncClient,
) -> None:
    """What the OpenAPI patterns admit is exactly what the API accepts, for texts at the edges
    of each rule (trimming, invisible names, strict prices)."""
    document = (await client.get("/openapi.json")).json()
    fields = document["components"]["schemas"]["ItemCreate"]["properties"]
    patterns = {
        "sku": fields["sku"]["pattern"],
        "name": fields["name"]["pattern"],
        "price": next(s["pattern"] for s in fields["price"]["anyOf"] if s["type"] == "string"),
    }
    for field, samples in SAMPLES.items():
        for n, sample in enumerate(samples):
            body = {"sku": f"agree-{field}-{n}", "name": "Widget", "price": "1", field: sample}
            response = await client.post("/v1/items", json=body)
            # JSON Schema reads patterns as ECMA-262 does: "$" ends the text, not a last line.
            ecma = patterns[field].removesuffix("$") + r"\Z"
            documented = re.search(ecma, sample) is not None
            assert (response.status_code == 201) == documented, (field, sample, response.text)
            if response.status_code != 201:
                assert_problem(response, 422)
    assert (await client.get("/v1/items?q=ws1")).json()["items"][0]["sku"] == "WS1"


async def test_patch_changes_only_the_fields_sent(client: httpx.AsyncClient) -> None:
    item = await create(client, description="blue", quantity=5)
    response = await client.patch(f"/v1/items/{item['id']}", json={"name": "Gadget"})
    assert response.status_code == 200
    updated = response.json()
    assert response.headers["etag"] == '"2"'
    assert updated["name"] == "Gadget"
    assert updated["version"] == 2
    for field in ("sku", "description", "price", "quantity", "created_at", "id"):
        assert updated[field] == item[field]
    assert updated["updated_at"] > item["updated_at"]
    cleared = await client.patch(f"/v1/items/{item['id']}", json={"description": None})
    assert cleared.json()["description"] is None


async def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    item = await create(client)
    url = f"/v1/items/{item['id']}"
    assert (
        await client.patch(url, json={"name": "A"}, headers={"If-Match": '"1"'})
    ).status_code == 200
    assert_problem(await client.patch(url, json={"name": "B"}, headers={"If-Match": '"1"'}), 412)
    assert_problem(await client.patch(url, json={"name": "B"}, headers={"If-Match": 'W/"2"'}), 412)
    assert_problem(
        await client.patch(url, json={"name": "B"}, headers={"If-Match": "garbage"}), 412
    )
    assert (await client.get(url)).json()["name"] == "A"
    assert (
        await client.patch(url, json={"name": "C"}, headers={"If-Match": "*"})
    ).status_code == 200


async def test_two_patches_with_the_same_if_match_one_wins(client: httpx.AsyncClient) -> None:
    item = await create(client)
    url = f"/v1/items/{item['id']}"
    responses = await asyncio.gather(
        *(client.patch(url, json={"name": f"n{i}"}, headers={"If-Match": '"1"'}) for i in range(2))
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    assert (await client.get(url)).json()["version"] == 2


async def test_patch_rejects_read_only_unknown_and_null_fields(client: httpx.AsyncClient) -> None:
    item = await create(client)
    url = f"/v1/items/{item['id']}"
    for body, pointer, detail in [
        ({"id": str(uuid.uuid4())}, "/id", "read-only"),
        ({"version": 9}, "/version", "read-only"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "/created_at", "read-only"),
        ({"colour": "red"}, "/colour", "not a known field"),
        ({"name": None}, "/name", "null"),
        ({"price": None}, "/price", "null"),
        ({}, "", "at least one field"),
    ]:
        problem = assert_problem(await client.patch(url, json=body), 422)
        assert problem["errors"][0]["pointer"] == pointer
        assert detail in problem["errors"][0]["detail"]
    assert (await client.get(url)).json() == item


async def test_patch_to_a_taken_sku_is_409(client: httpx.AsyncClient) -> None:
    await create(client, "taken")
    item = await create(client, "mine")
    assert_problem(await client.patch(f"/v1/items/{item['id']}", json={"sku": "TAKEN"}), 409)


async def test_patch_and_delete_of_unknown_items_are_404(client: httpx.AsyncClient) -> None:
    url = f"/v1/items/{uuid.uuid4()}"
    assert_problem(await client.patch(url, json={"name": "x"}), 404)
    assert_problem(await client.delete(url), 404)


async def test_delete(client: httpx.AsyncClient) -> None:
    item = await create(client)
    url = f"/v1/items/{item['id']}"
    assert_problem(await client.delete(url, headers={"If-Match": '"2"'}), 412)
    response = await client.delete(url, headers={"If-Match": '"1"'})
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(url), 404)


async def test_stock_adjustments(client: httpx.AsyncClient) -> None:
    item = await create(client, quantity=2)
    url = f"/v1/items/{item['id']}/stock-adjustments"
    response = await client.post(url, json={"delta": -2})
    assert response.status_code == 200
    assert (response.json()["quantity"], response.json()["version"]) == (0, 2)
    assert response.headers["etag"] == '"2"'
    body = assert_problem(await client.post(url, json={"delta": -1}), 409)
    assert body["type"] == "/problems/insufficient-stock"
    assert_problem(await client.post(url, json={"delta": 0}), 422)
    assert_problem(await client.post(url, json={"delta": 1.5}), 422)
    assert_problem(await client.post(url, json={"delta": 2**40}), 422)
    assert (await client.post(url, json={"delta": 2**31 - 1})).json()["quantity"] == 2**31 - 1
    limit = assert_problem(await client.post(url, json={"delta": 1}), 409)
    assert limit["type"] == "/problems/stock-limit"
    assert (await client.post(url, json={"delta": -(2**31 - 1)})).json()["quantity"] == 0
    assert_problem(
        await client.post(f"/v1/items/{uuid.uuid4()}/stock-adjustments", json={"delta": 1}), 404
    )
    after = (await client.get(f"/v1/items/{item['id']}")).json()
    assert (after["quantity"], after["version"]) == (0, 4)


async def test_100_concurrent_decrements_sell_exactly_the_stock(client: httpx.AsyncClient) -> None:
    item = await create(client, quantity=10)
    url = f"/v1/items/{item['id']}/stock-adjustments"
    responses = await asyncio.gather(*(client.post(url, json={"delta": -1}) for _ in range(100)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10
    assert statuses.count(409) == 90
    final = (await client.get(f"/v1/items/{item['id']}")).json()
    assert (final["quantity"], final["version"]) == (0, 11)


async def test_batch_creates_all(client: httpx.AsyncClient) -> None:
    rows = [{"sku": f"b-{i}", "name": f"n{i}", "price": i} for i in range(1000)]
    response = await client.post("/v1/items/batch", json={"items": rows})
    assert response.status_code == 201
    items = response.json()["items"]
    assert [i["sku"] for i in items] == [f"B-{i}" for i in range(1000)]
    assert len({i["id"] for i in items}) == 1000


async def test_a_batch_with_one_bad_item_inserts_nothing(client: httpx.AsyncClient) -> None:
    await create(client, "exists")
    good = [{"sku": f"g-{i}", "name": "n", "price": 1} for i in range(5)]
    bad_price = assert_problem(
        await client.post(
            "/v1/items/batch", json={"items": [*good, {"sku": "x", "name": "n", "price": "-1"}]}
        ),
        422,
    )
    assert bad_price["errors"][0]["pointer"] == "/items/5/price"
    bad_type = assert_problem(
        await client.post("/v1/items/batch", json={"items": [*good, {"sku": "x", "name": "n"}]}),
        422,
    )
    assert bad_type["errors"][0]["pointer"] == "/items/5/price"
    assert_problem(
        await client.post(
            "/v1/items/batch", json={"items": [*good, {"sku": "EXISTS", "name": "n", "price": 1}]}
        ),
        409,
    )
    assert_problem(await client.post("/v1/items/batch", json={"items": [*good, good[0]]}), 409)
    assert_problem(await client.post("/v1/items/batch", json={"items": []}), 422)
    assert_problem(await client.post("/v1/items/batch", json={"items": good * 201}), 422)
    listing = (await client.get("/v1/items")).json()
    assert [i["sku"] for i in listing["items"]] == ["EXISTS"]
