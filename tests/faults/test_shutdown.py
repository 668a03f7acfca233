"""Promise 7: SIGTERM while requests are in flight: first a drain (readiness answers 503, every
other request is served as before), then new connections are refused, the requests in flight
complete with their normal answers, the process exits 0 within the grace period, and its
database connections are closed. With `--workers`, each worker does all of that, and the
supervisor exits 0 once they have.
"""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import httpx
import pytest

from tests.api.helpers import assert_problem
from tests.faults.cluster import Database, row_locked, wait_until
from tests.faults.helpers import Serve, new_item, service_env
from tests.servers import Server
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow

GRACE: Final = 15
#: How long the test keeps the requests blocked after SIGTERM: long enough that a server which
#: does not wait for them (or waits only a moment) is caught, well inside GRACE.
HOLD: Final = 2.0
#: The drain: readiness 503 while everything else is still served.
DRAIN: Final = 2
WORKERS: Final = ("--workers", "2")
#: The drain with workers: long enough for a few probes on a busy machine, each on a new
#: connection.
WORKERS_DRAIN: Final = 8
#: The longest drain there is: a test that must tell "drained" from "did not" waits less.
LONGEST_DRAIN: Final = 300


def readiness(server: Server) -> httpx.Response:
    return httpx.get(f"{server.base_url}/health/ready", timeout=5, verify=LOOPBACK_TLS)


def not_ready(server: Server) -> httpx.Response | None:
    answer = readiness(server)
    return answer if answer.status_code == 503 else None


def all_started(server: Server, processes: int) -> None:
    """Ready means one worker is: one still starting would not drain but die by the signal."""
    wait_until(
        lambda: server.output().count("Application startup complete") == processes,
        within=60,
        what=f"{processes} serving processes to start",
    )


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
    server = serve(
        service_env(
            database.url,
            shutdown_grace=str(GRACE),
            shutdown_drain=str(DRAIN),
            statement_timeout="30",
        )
    )
    with httpx.Client(base_url=server.base_url, timeout=30, verify=LOOPBACK_TLS) as client:
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
            # Draining: out of the balancer's rotation, yet still serving what it is sent.
            draining = wait_until(
                lambda: not_ready(server), within=DRAIN, what="readiness to answer 503"
            )
            assert "draining" in assert_problem(draining, 503)["detail"]
            assert client.get(path).status_code == 200
            assert not refuses_connections(server.port)
            wait_until(
                lambda: refuses_connections(server.port),
                within=DRAIN + 5,
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


def test_with_workers_every_worker_drains_then_exits_zero(database: Database, serve: Serve) -> None:
    """`--workers`: the supervisor's SIGTERM drains each worker as it drains one process."""
    server = serve(
        service_env(
            database.url,
            shutdown_grace=str(GRACE),
            shutdown_drain=str(WORKERS_DRAIN),
            statement_timeout="30",
        ),
        *WORKERS,
    )
    all_started(server, 2)
    with httpx.Client(base_url=server.base_url, timeout=30, verify=LOOPBACK_TLS) as client:
        item = client.post("/v1/items", json=new_item("term-workers", quantity=5)).json()
        path = f"/v1/items/{item['id']}"
        with row_locked(database, item["id"]) as release, ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(client.patch, path, json={"name": "Finished"})
            wait_until(
                lambda: len(database.waiting_on_locks()) == 1,
                within=10,
                what="the request to wait on the row lock",
            )
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            wait_until(
                lambda: server.output().count("draining for") == 2,
                within=WORKERS_DRAIN,
                what="both workers to drain",
            )
            # Each probe is a new connection, which either worker may take: neither is ready
            # any more, and both still serve everything else.
            for _ in range(5):
                assert "draining" in assert_problem(readiness(server), 503)["detail"]
                assert (
                    httpx.get(
                        f"{server.base_url}/v1/items", timeout=5, verify=LOOPBACK_TLS
                    ).status_code
                    == 200
                )
            wait_until(
                lambda: refuses_connections(server.port),
                within=WORKERS_DRAIN + 5,
                what="the listening socket to close",
            )
            wait_until(
                lambda: "Waiting for connections to close" in server.output(),
                within=5,
                what="the worker with the request to wait for it",
            )
            assert server.process.poll() is None, "exited with a request in flight"
            assert not in_flight.done()
            release()
            answer = in_flight.result(timeout=GRACE)

    assert answer.status_code == 200, answer.text
    # The supervisor exits 0 only if every worker did.
    assert server.process.wait(timeout=GRACE) == 0, server.output()
    assert time.monotonic() - signalled <= WORKERS_DRAIN + GRACE
    wait_until(
        lambda: database.service_sessions() == [],
        within=5,
        what="the workers' connections to be gone",
    )
    assert "Traceback" not in server.output()


def test_with_workers_a_restart_does_not_drain(database: Database, serve: Serve) -> None:
    """SIGHUP replaces the workers: the new ones serve the port, so no balancer needs a retired
    worker to drain. Its bound is the drain itself: a retired worker that waited it out could not
    have been replaced within it, however slow the machine."""
    server = serve(service_env(database.url, shutdown_drain=str(LONGEST_DRAIN)), *WORKERS)
    all_started(server, 2)
    server.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: server.output().count("Finished server process") == 2,
        within=LONGEST_DRAIN - 10,
        what="both retired workers to finish, without their drain",
    )
    all_started(server, 4)
    assert "draining for" not in server.output()
    assert readiness(server).status_code == 200
    assert server.process.poll() is None


@pytest.mark.parametrize(
    ("args", "processes", "second"),
    [
        ((), 1, signal.SIGTERM),
        ((), 1, signal.SIGINT),
        # gunicorn takes a SIGINT during its graceful stop as a quick shutdown, and ignores
        # another SIGTERM.
        (WORKERS, 2, signal.SIGINT),
    ],
    ids=["one process-SIGTERM", "one process-SIGINT", "workers-SIGINT"],
)
def test_a_second_signal_ends_the_drain(
    database: Database, serve: Serve, args: tuple[str, ...], processes: int, second: int
) -> None:
    server = serve(service_env(database.url, shutdown_drain=str(LONGEST_DRAIN)), *args)
    all_started(server, processes)
    server.process.send_signal(signal.SIGTERM)
    wait_until(
        lambda: server.output().count(f"draining for {float(LONGEST_DRAIN)} s") == processes,
        within=LONGEST_DRAIN - 10,
        what="the drain to start",
    )
    assert readiness(server).status_code == 503
    assert (
        httpx.get(f"{server.base_url}/health/live", timeout=5, verify=LOOPBACK_TLS).status_code
        == 200
    )
    server.process.send_signal(second)
    # Inside the drain: only the second signal can have ended it.
    assert server.process.wait(timeout=LONGEST_DRAIN - 10) == 0, server.output()
    assert "Traceback" not in server.output()
