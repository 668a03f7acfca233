"""/v1/webhooks: subscriptions through the API (this app allows no private targets)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.helpers import assert_problem

PUBLIC = "https://93.184.215.14/hooks"  # a literal public address: nothing to resolve


async def test_create_list_delete(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/webhooks", json={"url": PUBLIC, "event_types": ["item.deleted"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["item.deleted"]
    assert body["active"] is True
    assert created.headers["location"] == f"/v1/webhooks/{body['id']}"

    listed = (await client.get("/v1/webhooks")).json()["items"]
    assert [s["id"] for s in listed] == [body["id"]]
    assert "secret" not in listed[0]

    assert (await client.delete(f"/v1/webhooks/{body['id']}")).status_code == 204
    assert (await client.get("/v1/webhooks")).json()["items"] == []
    missing = await client.delete(f"/v1/webhooks/{body['id']}")
    assert assert_problem(missing, 404)["type"] == "/problems/webhook-not-found"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"url": "http://127.0.0.1:8080/x"}, "/url"),
        ({"url": "http://10.0.0.7/x"}, "/url"),
        ({"url": "http://[::1]/x"}, "/url"),
        ({"url": "ftp://example.org/x"}, "/url"),
        ({"url": PUBLIC, "event_types": ["item.moved"]}, "/event_types/0"),
        ({"url": PUBLIC, "secret": "whsec_c2hvcnQ="}, "/secret"),
        ({"url": PUBLIC, "extra": 1}, "/extra"),
    ],
)
async def test_bad_subscriptions_are_422(
    client: httpx.AsyncClient, body: dict[str, object], pointer: str
) -> None:
    problem = assert_problem(await client.post("/v1/webhooks", json=body), 422)
    assert pointer in [error.get("pointer") for error in problem["errors"]]
    assert (await client.get("/v1/webhooks")).json()["items"] == []


async def test_a_malformed_id_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/v1/webhooks/not-an-id"), 422)
    assert_problem(await client.delete(f"/v1/webhooks/{uuid.uuid4()}"), 404)
