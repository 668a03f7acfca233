"""Behind PgBouncer in transaction pooling mode (STOCKROOM_PGBOUNCER=true): the service works,
promise 1 and 2 hold over two processes, and the statement timeout still applies.

PgBouncer runs with its defaults otherwise: no `ignore_startup_parameters`, so a startup
parameter it cannot track would fail the connection instead of being dropped silently.
"""

from __future__ import annotations

import functools

import httpx
import pytest

from tests.faults.cluster import STATEMENT_TIMEOUT_LOG, Database, PgBouncer, row_locked
from tests.faults.helpers import (
    Serve,
    assert_unavailable,
    new_item,
    service_env,
    start_all,
    timed,
)
from tests.faults.races import assert_races_hold
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow


async def test_two_servers_behind_pgbouncer_keep_the_promises(
    database: Database, pgbouncer: PgBouncer, serve: Serve
) -> None:
    env = service_env(database.url_via(pgbouncer.port), pgbouncer="true")
    servers = start_all(serve, env, env)
    await assert_races_hold([s.base_url for s in servers])

    # Timeouts are set per transaction behind PgBouncer: a blocked statement is still
    # cancelled by PostgreSQL at the (default, 1.5 s) statement timeout.
    assert_blocked_patch_times_out(database, servers[0].base_url)
    assert "unsupported startup parameter" not in pgbouncer.log()
    assert all("Traceback" not in s.output() for s in servers)


def assert_blocked_patch_times_out(database: Database, base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30, verify=LOOPBACK_TLS) as client:
        item = client.post("/v1/items", json=new_item("bouncer-1")).json()
        with row_locked(database, item["id"]):
            answer, elapsed = timed(
                functools.partial(client.patch, f"/v1/items/{item['id']}", json={"name": "Late"})
            )
        assert_unavailable(answer)
        assert elapsed <= 2.5, f"took {elapsed:.2f}s"
    assert STATEMENT_TIMEOUT_LOG in database.log()
