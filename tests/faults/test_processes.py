"""Promises 1 and 2 across processes: two `stockroom serve` on one database, one of them with
`--workers 2` (which must really run two worker processes).
"""

from __future__ import annotations

import pytest

from tests.faults.cluster import Database
from tests.faults.helpers import Serve, service_env
from tests.faults.races import assert_races_hold

pytestmark = pytest.mark.slow


async def test_two_servers_on_one_database_never_oversell_or_lose_an_update(
    database: Database, serve: Serve
) -> None:
    """One of the two runs `--workers 2`: three processes share the burst and the database."""
    env = service_env(database.url)
    with_workers = serve(env, "--workers", "2", ready=False)
    single = serve(env, ready=False)
    for server in (with_workers, single):
        server.wait_ready()
    # The supervisor's only children are its workers (the database is external here).
    assert len(with_workers.children()) == 2, with_workers.output()

    await assert_races_hold([with_workers.base_url, single.base_url])
    assert all("Traceback" not in s.output() for s in (with_workers, single))
