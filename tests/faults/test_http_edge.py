"""Promise 16 and HTTP framing, through a real `stockroom serve` (the server is where the
defects live: the ASGI transport of the API tests never frames a response or reads a header).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Final

import httpx
import psutil
import pytest

from tests.faults.cluster import Database
from tests.faults.helpers import new_item, service_env
from tests.servers import Server
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow

#: The server's time limit on a request's line and headers, short for the test.
HEADER_TIMEOUT: Final = 2.0


@pytest.fixture(scope="module")
def server(module_database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module (starting one costs more than any test here): each test's
    requests are its own, and what a test checks in the log is what its requests wrote."""
    env = service_env(module_database.url, log_format="json", header_timeout=str(HEADER_TIMEOUT))
    server = Server(env, workdir=tmp_path_factory.mktemp("edge"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.kill()


def raw(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT * 5)


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def errors_logged(server: Server, since: int) -> list[str]:
    """The error lines of the server's log past its first `since` characters."""
    return [
        line
        for line in server.output()[since:].splitlines()
        if '"level":"error"' in line or "Traceback" in line or "Exception in ASGI" in line
    ]


def test_head_then_get_on_one_connection_keeps_it_usable(server: Server) -> None:
    logged = len(server.output())
    with httpx.Client(base_url=server.base_url, timeout=10, verify=LOOPBACK_TLS) as client:
        item = client.post("/v1/items", json=new_item("head-1")).json()
        path = f"/v1/items/{item['id']}"
        for _ in range(20):
            head = client.head(path)
            got = client.get(path)
            assert (head.status_code, head.content) == (200, b"")
            assert head.headers["content-length"] == got.headers["content-length"]
            assert got.json() == item
        # One connection served them all: the server never closed it.
        assert client.get("/health/live").status_code == 200
    assert errors_logged(server, logged) == []


def test_pipelined_head_and_get_get_two_answers(server: Server) -> None:
    logged = len(server.output())
    with raw(server) as sock:
        sock.sendall(
            b"HEAD /health/live HTTP/1.1\r\nHost: test\r\n\r\n"
            b"GET /health/live HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        )
        answer = read_until_closed(sock)
    assert answer.count(b"HTTP/1.1 200 OK") == 2, answer
    assert answer.endswith(b'"version":"0.1.0"}'), answer
    assert errors_logged(server, logged) == []


def test_a_huge_header_gets_431_and_is_not_buffered(server: Server) -> None:
    serving = psutil.Process(server.process.pid)
    before = serving.memory_info().rss
    for size in (1, 32):  # MiB
        with raw(server) as sock:
            head = b"GET /v1/items HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * (size << 20)
            # Sent from a thread while the answer is read here: the server answers early.
            sender = threading.Thread(target=_send_ignoring_close, args=(sock, head + b"\r\n\r\n"))
            sender.start()
            status, body = status_and_body(read_until_closed(sock))
            sender.join()
        assert status == 431
        assert b'"type":"/problems/headers-too-large"' in body
    # Far less than the largest header sent: the server kept no more of it than its limit.
    assert serving.memory_info().rss - before < 8 << 20
    assert client_ok(server)


def _send_ignoring_close(sock: socket.socket, data: bytes) -> None:
    # The server may stop reading before all of it is sent: it has refused it already.
    with contextlib.suppress(OSError):
        sock.sendall(data)


def client_ok(server: Server) -> bool:
    return (
        httpx.get(f"{server.base_url}/health/live", timeout=5, verify=LOOPBACK_TLS).status_code
        == 200
    )


def test_many_small_headers_past_the_limit_get_431(server: Server) -> None:
    with raw(server) as sock:
        headers = b"".join(b"X-%d: 1\r\n" % n for n in range(5000))
        sock.sendall(b"GET /v1/items HTTP/1.1\r\nHost: test\r\n" + headers + b"\r\n")
        status, _ = status_and_body(read_until_closed(sock))
    assert status == 431


@pytest.mark.parametrize("drip", [b"", b"a"], ids=["silent", "one byte at a time"])
def test_a_head_sent_slowly_is_cut_off(server: Server, drip: bytes) -> None:
    """Slowloris: a connection that sends nothing, or one header byte after another without
    end, is closed by the server once the header timeout has passed."""
    with raw(server) as sock:
        if drip:
            sock.sendall(b"GET /v1/items HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        sock.settimeout(HEADER_TIMEOUT / 10)
        closed = False
        # A tenth of the timeout per byte, for three timeouts at least.
        for _ in range(30):
            try:
                sock.sendall(drip)
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:  # reset: closed as well
                closed = True
            if closed:
                break
    assert closed, "the server kept a connection whose head never ended"
    assert client_ok(server)


def test_a_head_has_the_whole_timeout_from_its_own_first_byte(server: Server) -> None:
    """On a kept-alive connection the next head's time starts with its first byte: one that
    begins late in the connection's life and spans the moment a timeout counted from the
    connection's start would end is still read whole."""
    request = b"GET /health/live HTTP/1.1\r\nHost: test\r\n"
    with raw(server) as sock:
        sock.sendall(request + b"\r\n")
        first = b""
        while not first.endswith(b"}"):
            first += sock.recv(65536)
        assert status_and_body(first)[0] == 200
        time.sleep(HEADER_TIMEOUT * 0.75)  # idle between requests: no head is being received
        sock.sendall(request)
        time.sleep(HEADER_TIMEOUT / 2)  # the head in two parts, half a timeout apart
        sock.sendall(b"Connection: close\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer


def test_a_transfer_coding_other_than_chunked_is_501(
    server: Server, module_database: Database
) -> None:
    items = "SELECT count(*) FROM items"
    with module_database.connect() as conn:
        before = conn.execute(items).fetchone()
    with raw(server) as sock:
        sock.sendall(
            b"POST /v1/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
        status, body = status_and_body(read_until_closed(sock))
    assert status == 501
    assert b'"type":"/problems/unsupported-transfer-coding"' in body
    with module_database.connect() as conn:
        assert conn.execute(items).fetchone() == before


@pytest.mark.parametrize(
    "hosts", [b"", b"Host: a\r\nHost: b\r\n"], ids=["no Host", "two Host headers"]
)
def test_http_1_1_needs_exactly_one_host(server: Server, hosts: bytes) -> None:
    with raw(server) as sock:
        sock.sendall(b"GET /v1/items HTTP/1.1\r\n" + hosts + b"\r\n")
        status, body = status_and_body(read_until_closed(sock))
    assert status == 400
    assert b'"type":"/problems/bad-host"' in body
    # HTTP/1.0 has no Host requirement.
    with raw(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.0\r\n\r\n")
        assert status_and_body(read_until_closed(sock))[0] == 200
