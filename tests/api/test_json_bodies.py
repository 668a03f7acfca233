"""Which Content-Type gets a body read as JSON: the admission middleware refuses what is not JSON
(415); of what it lets in, FastAPI's own rule (`application/json` or `application/*+json`)
decides, as it did before the routes stopped asking FastAPI to parse the header."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import assert_problem

BODY = b'{"sku": "ct-1", "name": "Widget", "price": 0.10000000000000001}'


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON; charset=utf-8",
        " application/json;",
        "application/merge-patch+json",
        "APPLICATION/VND.STOCKROOM+JSON",
    ],
)
async def test_a_json_content_type_gets_the_body_read_with_exact_numbers(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post("/v1/items", content=BODY, headers={"content-type": content_type})
    # The price is judged as the number sent (not rounded to 0.1 as a float would be).
    body = assert_problem(response, 422)
    assert [error["pointer"] for error in body["errors"]] == ["/price"]


@pytest.mark.parametrize("content_type", ["text/x+json", "x+json", "application//x+json"])
async def test_a_json_suffix_outside_application_is_admitted_but_not_read_as_json(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post("/v1/items", content=BODY, headers={"content-type": content_type})
    body = assert_problem(response, 422)
    assert [error["pointer"] for error in body["errors"]] == [""]


async def test_a_json_body_of_a_patch_and_a_stock_adjustment_is_read(
    client: httpx.AsyncClient,
) -> None:
    json = {"content-type": "application/json"}
    created = await client.post(
        "/v1/items", content=BODY.replace(b"0.10000000000000001", b"1"), headers=json
    )
    assert created.status_code == 201, created.text
    item = created.json()["id"]
    patched = await client.patch(f"/v1/items/{item}", content=b'{"name": "Gadget"}', headers=json)
    assert (patched.status_code, patched.json()["name"]) == (200, "Gadget")
    adjusted = await client.post(
        f"/v1/items/{item}/stock-adjustments", content=b'{"delta": 3.0}', headers=json
    )
    assert (adjusted.status_code, adjusted.json()["quantity"]) == (200, 3)
