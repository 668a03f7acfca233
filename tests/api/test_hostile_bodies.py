"""Request bodies at the edge of the Item's rules: signed zeros, exotic digits, exact numbers."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import assert_problem, create


def body(price: str, sku: str = "z-1") -> bytes:
    """A JSON body with `price` spliced in as written (a JSON number keeps its exact text)."""
    return f'{{"sku": "{sku}", "name": "Zero", "price": {price}}}'.encode()


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("price", ['"-0"', '"-0.0"', "-0", "-0.0", "-0e5", "0.000"])
async def test_minus_zero_is_stored_and_returned_as_0_00(
    client: httpx.AsyncClient, price: str
) -> None:
    headers = {**JSON, "Idempotency-Key": f"zero-{price}"}
    created = await client.post("/v1/items", content=body(price), headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["price"] == "0.00"
    replayed = await client.post("/v1/items", content=body(price), headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["price"] == "0.00"
    assert (await client.get(created.headers["location"])).json()["price"] == "0.00"
    batch = await client.post(
        "/v1/items/batch",
        content=f'{{"items": [{body(price, "z-2").decode()}]}}'.encode(),
        headers=JSON,
    )
    assert batch.json()["items"][0]["price"] == "0.00"


async def test_a_patch_to_minus_zero_is_0_00(client: httpx.AsyncClient) -> None:
    item = await create(client)
    response = await client.patch(f"/v1/items/{item['id']}", json={"price": "-0"})
    assert response.json()["price"] == "0.00"


@pytest.mark.parametrize(
    "price",
    [
        '"1_000"',
        '"\\u0661\\u0662"',  # Arabic-Indic digits
        '"1e2"',
        '"1.500"',
        "1e-400",
        "0.001",
        "1e10",
        "0.10000000000000000001",
        "-1e-999999",
        "1e999999",
    ],
)
async def test_prices_other_than_ascii_decimals_with_two_places_are_422_at_price(
    client: httpx.AsyncClient, price: str
) -> None:
    response = await client.post("/v1/items", content=body(price), headers=JSON)
    problem = assert_problem(response, 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/price"]
    item = await create(client, sku=f"p{abs(hash(price))}")
    patch = await client.patch(
        f"/v1/items/{item['id']}", content=f'{{"price": {price}}}'.encode(), headers=JSON
    )
    assert [e["pointer"] for e in assert_problem(patch, 422)["errors"]] == ["/price"]


@pytest.mark.parametrize(("price", "stored"), [("1e2", "100.00"), ("12.5", "12.50"), ("7", "7.00")])
async def test_a_json_number_whose_value_is_a_price_is_accepted(
    client: httpx.AsyncClient, price: str, stored: str
) -> None:
    response = await client.post("/v1/items", content=body(price), headers=JSON)
    assert response.status_code == 201, response.text
    assert response.json()["price"] == stored


@pytest.mark.parametrize("sku", ["straße", "ﬁ1"])
async def test_a_non_ascii_sku_is_422_not_upper_cased(client: httpx.AsyncClient, sku: str) -> None:
    response = await client.post("/v1/items", json={"sku": sku, "name": "n", "price": "1"})
    assert [e["pointer"] for e in assert_problem(response, 422)["errors"]] == ["/sku"]


async def test_exact_numbers_leave_integer_fields_as_they_were(
    client: httpx.AsyncClient,
) -> None:
    item = await create(client, quantity=3.0)
    assert item["quantity"] == 3
    adjusted = await client.post(
        f"/v1/items/{item['id']}/stock-adjustments", content=b'{"delta": 2.0}', headers=JSON
    )
    assert adjusted.json()["quantity"] == 5
    for delta in (b"1.5", b"1e999999999"):
        response = await client.post(
            f"/v1/items/{item['id']}/stock-adjustments",
            content=b'{"delta": ' + delta + b"}",
            headers=JSON,
        )
        assert_problem(response, 422)
