"""`stockroom serve` on the embedded default, as a new user runs it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import embedded_env
from tests.servers import Server
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow


def test_the_embedded_default_serves_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = embedded_env(data_dir)

    first = Server(env, workdir=tmp_path)
    try:
        first.wait_ready()
        created = httpx.post(
            f"{first.base_url}/v1/items",
            json={"sku": "keep-1", "name": "Kept", "price": "3.10", "quantity": 2},
            verify=LOOPBACK_TLS,
        )
        assert created.status_code == 201, created.text
    finally:
        assert first.terminate() == 0, first.output()

    second = Server(env, workdir=tmp_path)
    try:
        second.wait_ready()
        fetched = httpx.get(f"{second.base_url}{created.headers['location']}", verify=LOOPBACK_TLS)
        assert fetched.status_code == 200
        assert fetched.json() == created.json()
    finally:
        assert second.terminate() == 0, second.output()
    assert (data_dir / "pgdata" / "PG_VERSION").exists()
