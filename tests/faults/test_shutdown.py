"""Promise 7: SIGTERM while requests are in flight: they complete with their normal answers, new
connections are refused, the process exits 0 within the grace period, and its database
connections are closed.
"""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import httpx
import pytest

from tests.faults.cluster import Database, row_locked, wait_until
from tests.faults.helpers import Serve, new_item, service_env

pytestmark = pytest.mark.slow

GRACE: Final = 15
#: How long the test keeps the requests blocked after SIGTERM: long enough that a server which
#: does not wait for them (or waits only a moment) is caught, well inside GRACE.
HOLD: Final = 2.0


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True


def test_sigterm_lets_in_flight_requests_finish_then_exits_zero(
    database: Database, serve: Serve
) -> None:
    # The statement timeout outlasts the test's lock: the in-flight requests must finish
    # normally, not be cancelled.
    server = serve(service_env(database.url, shutdown_grace=str(GRACE), statement_timeout="30"))
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        item = client.post("/v1/items", json=new_item("term-1", quantity=5)).json()
        path = f"/v1/items/{item['id']}"
        with row_locked(database, item["id"]) as release, ThreadPoolExecutor(2) as pool:
            in_flight = [
                pool.submit(client.patch, path, json={"name": "Finished"}),
                pool.submit(client.post, f"{path}/stock-adjustments", json={"delta": -2}),
            ]
            wait_until(
                lambda: len(database.waiting_on_locks()) == 2,
                within=10,
                what="both requests to wait on the row lock",
            )
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            wait_until(
                lambda: refuses_connections(server.port),
                within=5,
                what="the listening socket to close",
            )
            time.sleep(max(0.0, signalled + HOLD - time.monotonic()))
            assert server.process.poll() is None, "exited with requests in flight"
            assert not any(f.done() for f in in_flight)
            release()
            answers = [future.result(timeout=GRACE) for future in in_flight]

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert server.process.wait(timeout=GRACE) == 0, server.output()
    assert time.monotonic() - signalled <= GRACE
    final = database.item(item["id"])
    assert final is not None
    assert (final["name"], final["quantity"], final["version"]) == ("Finished", 3, 3)
    # Backends notice a closed socket asynchronously: a short bounded wait.
    wait_until(
        lambda: database.service_sessions() == [],
        within=5,
        what="the server's connections to be gone",
    )
    assert "open transaction" not in database.log()
    assert "Traceback" not in server.output()
