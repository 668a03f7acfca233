"""GET /v1/items under hostile query strings: forged cursors and arbitrary parameters.

A cursor the service did not issue for that sort and those filters is a 400 invalid-cursor,
never a 5xx and never wrong rows; no value of any list parameter produces a 5xx.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.listing import Sort, filters_fingerprint
from tests.api.helpers import assert_problem

#: Text a query string can carry (UTF-8 has no lone surrogates).
query_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
SORTS = [sort.value for sort in Sort]
ITEM_ID = "01a20242-a141-7574-9bd8-3cc9652ee0a2"
#: Hypothesis reuses the function-scoped client across examples: it only reads.
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def forge(*payload: object) -> str:
    raw = json.dumps(list(payload), ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def seed(client: httpx.AsyncClient) -> None:
    rows = [{"sku": f"h{i}", "name": f"Name {i}", "price": f"{i}.50"} for i in range(3)]
    assert (await client.post("/v1/items/batch", json={"items": rows})).status_code == 201


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        ("price", "10000000000"),
        ("price", "1e999999"),
        ("price", "-1e-999999"),
        ("price", "1e131072"),
        ("price", "12.5"),  # issued as 12.50: not the canonical form
        ("created_at", "0001-01-01T00:00:00+14:00"),
        ("created_at", "9999-12-31T23:59:59-14:00"),
        ("created_at", "2026-01-01T00:00:00"),  # naive
        ("name", "\ud800"),
        ("name", " padded "),
        ("sku", "lower"),
        ("sku", "STRASSE\u00df"),
    ],
)
async def test_forged_cursor_values_are_400(
    client: httpx.AsyncClient, sort: str, value: str
) -> None:
    await seed(client)
    for direction in ("", "-"):
        cursor = forge(direction + sort, value, ITEM_ID, "")
        response = await client.get(
            "/v1/items", params={"sort": direction + sort, "cursor": cursor}
        )
        problem = assert_problem(response, 400)
        assert problem["type"] == "/problems/invalid-cursor"


async def test_a_forged_cursor_in_canonical_form_is_one_the_service_could_issue(
    client: httpx.AsyncClient,
) -> None:
    await seed(client)
    cursor = forge("price", "1.50", ITEM_ID, "")
    response = await client.get("/v1/items", params={"sort": "price", "cursor": cursor})
    assert response.status_code == 200, response.text
    assert [i["price"] for i in response.json()["items"]] == ["1.50", "2.50"]


async def test_a_cursor_is_bound_to_the_filters_of_its_list(client: httpx.AsyncClient) -> None:
    await seed(client)
    first = (await client.get("/v1/items", params={"limit": 1, "min_price": "1"})).json()
    cursor = first["next_cursor"]
    same = await client.get("/v1/items", params={"min_price": "1.00", "cursor": cursor})
    assert same.status_code == 200, same.text
    for other in [{}, {"min_price": "2"}, {"min_price": "1", "q": "name"}]:
        problem = assert_problem(
            await client.get("/v1/items", params={**other, "cursor": cursor}), 400
        )
        assert problem["type"] == "/problems/invalid-cursor"


filters = st.fixed_dictionaries(
    {},
    optional={
        "q": st.text(st.characters(blacklist_categories=["Cs"]), max_size=5),
        "min_price": st.sampled_from(["0", "1.5", "99"]),
        "max_price": st.sampled_from(["0", "2", "1000"]),
        "in_stock": st.sampled_from(["true", "false"]),
    },
)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
cursor_values = st.text() | st.sampled_from(
    ["1e999999", "-0", "NaN", "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999+00:00"]
)


def _no_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


@PROPERTY
@given(sort=st.sampled_from(SORTS), params=filters, raw=st.binary(max_size=200))
async def test_arbitrary_bytes_as_a_cursor_are_never_a_5xx(
    client: httpx.AsyncClient, sort: str, params: dict[str, str], raw: bytes
) -> None:
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=") or "x"
    _no_5xx(await client.get("/v1/items", params={**params, "sort": sort, "cursor": cursor}))


@PROPERTY
@given(sort=st.sampled_from(SORTS), params=filters, payload=json_values)
async def test_arbitrary_json_as_a_cursor_is_never_a_5xx(
    client: httpx.AsyncClient, sort: str, params: dict[str, str], payload: Any
) -> None:
    cursor = forge(*payload) if isinstance(payload, list) else forge(payload)
    _no_5xx(await client.get("/v1/items", params={**params, "sort": sort, "cursor": cursor}))


@PROPERTY
@given(
    sort=st.sampled_from(SORTS),
    params=filters,
    value=cursor_values,
    item_id=st.uuids().map(str) | st.text(max_size=40),
)
async def test_cursors_shaped_like_the_services_are_400_or_equivalent_to_one_it_issues(
    client: httpx.AsyncClient, sort: str, params: dict[str, str], value: str, item_id: str
) -> None:
    min_price, max_price = (
        Decimal(params[bound]) if bound in params else None for bound in ("min_price", "max_price")
    )
    in_stock = params["in_stock"] == "true" if "in_stock" in params else None
    bound = filters_fingerprint(params.get("q") or None, min_price, max_price, in_stock)
    cursor = forge(sort, value, item_id, bound)
    response = await client.get("/v1/items", params={**params, "sort": sort, "cursor": cursor})
    _no_5xx(response)
    if response.status_code == 400:
        assert response.json()["type"] == "/problems/invalid-cursor"


list_parameters = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        ["limit", "sort", "q", "min_price", "max_price", "in_stock", "cursor"], query_text
    ),
)


@PROPERTY
@given(params=list_parameters)
async def test_no_list_parameter_is_ever_a_5xx(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    _no_5xx(await client.get("/v1/items", params=params))
