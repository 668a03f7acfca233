"""Promise 6: with the pool exhausted or a statement past its timeout, the request answers 503
within about 2.5 s, and no connection is left idle in transaction. A backend killed under a
request fails only that request.

The test holds `SELECT ... FOR UPDATE` on an item in its own transaction, so the service's
PATCHes to that item block inside PostgreSQL for as long as the test wants.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import httpx
import pytest

from tests.faults.cluster import STATEMENT_TIMEOUT_LOG, Database, row_locked, wait_until
from tests.faults.helpers import Serve, assert_unavailable, new_item, service_env, timed
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow

#: The timeout each test sets, and a second for the rest of the request.
TIMEOUT: Final = 1
WITHIN: Final = TIMEOUT + 1.0


def test_an_exhausted_pool_answers_503_and_the_blocked_requests_still_finish(
    database: Database, serve: Serve
) -> None:
    # A long statement timeout keeps the two PATCHes blocked (holding both connections) well
    # past the pool timeout that the third request runs into.
    env = service_env(
        database.url,
        pool_size="2",
        pool_max_overflow="0",
        pool_timeout=str(TIMEOUT),
        statement_timeout="10",
    )
    server = serve(env)
    with httpx.Client(base_url=server.base_url, timeout=30, verify=LOOPBACK_TLS) as client:
        item = client.post("/v1/items", json=new_item("pool-1")).json()
        path = f"/v1/items/{item['id']}"
        with row_locked(database, item["id"]) as release, ThreadPoolExecutor(2) as pool:
            blocked = [
                pool.submit(client.patch, path, json={"name": f"Blocked {n}"}) for n in (1, 2)
            ]
            wait_until(
                lambda: len(database.waiting_on_locks()) == 2,
                within=10,
                what="both pooled connections to wait on the row lock",
            )
            third, elapsed = timed(functools.partial(client.get, path))
            assert_unavailable(third)
            assert elapsed <= WITHIN, f"the third request took {elapsed:.2f}s"
            release()
            answers = [future.result(timeout=20) for future in blocked]
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert sorted(a.json()["version"] for a in answers) == [2, 3]
        assert database.idle_in_transaction() == []
        assert client.get(path).json()["version"] == 3


def test_a_statement_past_its_timeout_answers_503_and_changes_nothing(
    database: Database, serve: Serve
) -> None:
    server = serve(service_env(database.url, statement_timeout=str(TIMEOUT)))
    with httpx.Client(base_url=server.base_url, timeout=30, verify=LOOPBACK_TLS) as client:
        item = client.post("/v1/items", json=new_item("slow-1")).json()
        path = f"/v1/items/{item['id']}"
        with row_locked(database, item["id"]):
            answer, elapsed = timed(functools.partial(client.patch, path, json={"name": "Late"}))
            assert_unavailable(answer)
            assert elapsed <= WITHIN, f"the blocked PATCH took {elapsed:.2f}s"
            # PostgreSQL cancelled it (not a client-side timeout that leaves it running).
            assert STATEMENT_TIMEOUT_LOG in database.log()
            assert database.idle_in_transaction() == []
        assert database.idle_in_transaction() == []
        assert client.get(path).json() == item
        changed = client.patch(path, json={"name": "On time"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == 2


def test_a_backend_killed_mid_transaction_fails_only_its_request(
    database: Database, serve: Serve
) -> None:
    server = serve(service_env(database.url, pool_size="2", statement_timeout="10"))
    with httpx.Client(base_url=server.base_url, timeout=30, verify=LOOPBACK_TLS) as client:
        item = client.post("/v1/items", json=new_item("kill-1")).json()
        path = f"/v1/items/{item['id']}"
        with row_locked(database, item["id"]), ThreadPoolExecutor(1) as pool:
            victim = pool.submit(client.patch, path, json={"name": "Victim"})
            backend = wait_until(
                database.waiting_on_locks, within=10, what="the PATCH to wait on the row lock"
            )
            with database.connect() as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (backend[0]["pid"],))
            assert_unavailable(victim.result(timeout=10))
        # The pool replaced the dead connection: every following request is served.
        for n in range(4):
            changed = client.patch(path, json={"name": f"After {n}"})
            assert changed.status_code == 200, changed.text
            assert client.get(path).status_code == 200
        assert changed.json()["version"] == 5
        assert database.idle_in_transaction() == []
