"""The embedded PostgreSQL killed under a running `stockroom serve`: serve starts it again on
its data, and the service recovers by itself, as it does from an outage of an external database.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.faults.cluster import wait_until
from tests.faults.helpers import Serve, new_item
from tests.faults.test_durability import (
    alive,
    embedded_data_dir,
    embedded_env,
    postmaster_pid,
)
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow

__all__ = ["embedded_data_dir"]  # the fixture, shared with the durability tests

#: A guard against a hang, not a speed bound: the restart is crash recovery on a small catalog.
RECOVERY_WITHIN = 120


def test_a_killed_embedded_postgres_is_restarted_and_the_service_recovers(
    embedded_data_dir: Path, serve: Serve
) -> None:
    server = serve(embedded_env(embedded_data_dir))
    with httpx.Client(base_url=server.base_url, timeout=10, verify=LOOPBACK_TLS) as client:
        created = client.post("/v1/items", json=new_item("sup-1"))
        assert created.status_code == 201, created.text
        item = created.json()
        postmaster = postmaster_pid(embedded_data_dir)
        assert postmaster is not None

        os.kill(postmaster, signal.SIGKILL)
        seen: list[int] = []

        def answered() -> bool:
            seen.append(client.get(f"/v1/items/{item['id']}").status_code)
            return seen[-1] == 200

        def restarted() -> int | None:
            answered()  # requests keep coming meanwhile
            pid = postmaster_pid(embedded_data_dir)
            return pid if pid not in (None, postmaster) and alive(pid) else None

        wait_until(restarted, within=RECOVERY_WITHIN, what="a new postmaster", every=0.2)
        wait_until(answered, within=RECOVERY_WITHIN, what="the service to recover", every=0.2)
        assert 503 in seen
        assert set(seen) <= {200, 503}, server.output()  # an outage's answer only
        assert client.get(f"/v1/items/{item['id']}").json() == item  # the data is intact
        again = client.post("/v1/items", json=new_item("sup-2"))
        assert again.status_code == 201, again.text
        assert client.get("/health/ready").status_code == 200

    new_postmaster = postmaster_pid(embedded_data_dir)
    assert new_postmaster not in (None, postmaster)
    assert server.process.poll() is None  # the same serve, never restarted
    # The restarted server is still this serve's: its clean exit stops it.
    assert server.terminate() == 0
    assert new_postmaster is not None
    wait_until(lambda: not alive(new_postmaster), within=15, what="the embedded PostgreSQL to stop")
