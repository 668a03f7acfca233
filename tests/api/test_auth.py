"""API keys: 401 without a valid key, 403 for a read key on a write, public reads, open mode."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from infrastructure.api_keys import Scope, new_key
from infrastructure.settings import Settings
from tests.api.helpers import assert_problem, client_with

READ_SECRET, READ_KEY = new_key("reader", Scope.READ)
WRITE_SECRET, WRITE_KEY = new_key("writer", Scope.WRITE)
ITEM = {"sku": "auth-1", "name": "Widget", "price": "1.00"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def secured(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_with(database_url, api_keys=[READ_KEY.entry(), WRITE_KEY.entry()]):
        yield client


async def test_writes_need_a_write_key(secured: httpx.AsyncClient) -> None:
    missing = assert_problem(await secured.post("/v1/items", json=ITEM), 401)
    assert "API key" in missing["detail"]
    assert missing["type"] == "/problems/unauthorized"
    invalid = await secured.post("/v1/items", json=ITEM, headers=bearer("srk_wrong"))
    assert_problem(invalid, 401)
    assert 'error="invalid_token"' in invalid.headers["www-authenticate"]
    read_only = await secured.post("/v1/items", json=ITEM, headers=bearer(READ_SECRET))
    assert assert_problem(read_only, 403)["type"] == "/problems/forbidden"
    created = await secured.post("/v1/items", json=ITEM, headers=bearer(WRITE_SECRET))
    assert created.status_code == 201
    item_url = created.headers["location"]
    assert_problem(
        await secured.patch(item_url, json={"name": "x"}, headers=bearer(READ_SECRET)), 403
    )
    assert_problem(await secured.delete(item_url, headers=bearer(READ_SECRET)), 403)


async def test_reads_need_a_key_of_any_scope(secured: httpx.AsyncClient) -> None:
    response = await secured.get("/v1/items")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await secured.get("/v1/items", headers=bearer(READ_SECRET))).status_code == 200
    assert (await secured.get("/v1/items", headers=bearer(WRITE_SECRET))).status_code == 200
    assert (await secured.get("/health/live")).status_code == 200
    assert (await secured.get("/health/ready")).status_code == 200


async def test_every_path_under_v1_is_guarded_and_only_there(secured: httpx.AsyncClient) -> None:
    assert_problem(await secured.get("/v1/no-such-thing"), 401)
    assert_problem(await secured.get("/v1/no-such-thing", headers=bearer(READ_SECRET)), 404)
    assert_problem(await secured.get("/v1/items", headers={"Authorization": "Basic eDp5"}), 401)
    assert_problem(await secured.get("/v1/items", headers={"Authorization": "Bearer "}), 401)
    assert (
        await secured.get("/v1/items", headers={"Authorization": f"bearer  {READ_SECRET}"})
    ).status_code == 200
    assert (await secured.get("/metrics")).status_code == 200
    assert (await secured.get("/openapi.json")).status_code == 200
    assert_problem(await secured.get("/elsewhere"), 404)


async def test_public_reads(database_url: str) -> None:
    async for client in client_with(database_url, api_keys=[WRITE_KEY.entry()], public_reads=True):
        assert (await client.get("/v1/items")).status_code == 200
        assert_problem(await client.post("/v1/items", json=ITEM), 401)


async def test_open_mode_says_so_once_at_start(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="stockroom.app"):
        async for client in client_with(database_url):
            assert (await client.post("/v1/items", json=ITEM)).status_code == 201
            assert (await client.get("/v1/items")).status_code == 200
    warnings = [r for r in caplog.records if "no API keys configured" in r.getMessage()]
    assert len(warnings) == 1


def test_keys_are_configured_as_hashes_only() -> None:
    assert READ_SECRET not in READ_KEY.entry()
    assert READ_SECRET.startswith("srk_")
    assert len(READ_KEY.sha256) == 64
    with pytest.raises(ValueError, match="entry"):
        Settings(api_keys=[READ_SECRET], _env_file=None)


async def test_the_access_line_names_the_key_never_its_secret(
    secured: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    created = await secured.post("/v1/items", json=ITEM, headers=bearer(WRITE_SECRET))
    assert created.status_code == 201
    refused = await secured.post("/v1/items", json=ITEM, headers=bearer(READ_SECRET))
    assert refused.status_code == 403
    assert (await secured.get("/v1/items")).status_code == 401
    logged = "".join(capsys.readouterr())
    access = [line for line in logged.splitlines() if "stockroom.access" in line]
    assert len(access) == 3, logged
    fields = [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in access]
    assert [(f["status"], f.get("key")) for f in fields] == [
        ("201", "writer"),
        ("403", "reader"),
        ("401", None),
    ]
    assert WRITE_SECRET not in logged
    assert READ_SECRET not in logged
