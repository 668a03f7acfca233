"""GET /v1/events/stream through a real `stockroom serve`: resuming with Last-Event-ID, keep-alive
comments, and the stream ending cleanly when the server is told to stop."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.cluster import wait_until
from tests.servers import Server
from tests.support.http import LOOPBACK_TLS
from tests.support.receiver import Receiver, ReceiverServer

#: Seconds a read may wait: events show within a poll, keep-alives every half second.
READ_TIMEOUT = 30.0


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    server = Server(
        {
            "STOCKROOM_DATABASE_URL": database_url,
            "STOCKROOM_EVENT_STREAM_KEEPALIVE": "0.5",
            # Long, so that a stream that did not end on SIGTERM would outlast the test's wait.
            "STOCKROOM_SHUTDOWN_GRACE": "120",
        },
        workdir=tmp_path,
    )
    try:
        server.wait_ready()
        yield server
    finally:
        if server.process.poll() is None:
            server.kill()


def _messages(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """SSE messages: each field once (the feed sends one line per field), `comment` for `:`."""
    message: dict[str, Any] = {}
    for line in lines:
        if not line:
            if message:
                yield message
            message = {}
            continue
        name, _, value = line.partition(":")
        message[name or "comment"] = value.removeprefix(" ")


def _create(base_url: str, *skus: str) -> None:
    for sku in skus:
        response = httpx.post(
            f"{base_url}/v1/items",
            json={"sku": sku, "name": "n", "price": "1"},
            verify=LOOPBACK_TLS,
        )
        assert response.status_code == 201, response.text


def _events(
    client: httpx.Client, count: int, headers: dict[str, str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The first `count` events of a new stream, and the comments seen until then; then the
    client disconnects."""
    events: list[dict[str, Any]] = []
    comments: list[str] = []
    with client.stream("GET", "/v1/events/stream", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in _messages(response.iter_lines()):
            if "comment" in message:
                comments.append(message["comment"])
            if "data" in message:
                events.append(message)
            if len(events) == count:
                break
    return events, comments


def test_a_client_resumes_with_last_event_id_without_gap_or_repeat(server: Server) -> None:
    _create(server.base_url, "S-1", "S-2", "S-3")
    with httpx.Client(
        base_url=server.base_url, timeout=READ_TIMEOUT, verify=LOOPBACK_TLS
    ) as client:
        first, _ = _events(client, 2)  # and then it goes away mid-stream
        _create(server.base_url, "S-4", "S-5")
        rest, comments = _events(client, 3, headers={"Last-Event-ID": first[-1]["id"]})
        # Idle now: the open stream says it is alive.
        with client.stream("GET", "/v1/events/stream", params={"after": rest[-1]["id"]}) as live:
            assert next(m for m in _messages(live.iter_lines()) if m.get("comment") == "keep-alive")
    received = first + rest
    assert [httpx.Response(200, content=m["data"]).json()["sku"] for m in received] == [
        "S-1",
        "S-2",
        "S-3",
        "S-4",
        "S-5",
    ]
    assert [m["event"] for m in received] == ["item.created"] * 5
    assert len({m["id"] for m in received}) == 5
    assert all(httpx.Response(200, content=m["data"]).json()["cursor"] == m["id"] for m in received)
    assert comments  # the stream opens with a comment (and its retry hint)


def test_the_stream_ends_cleanly_when_the_server_stops(server: Server) -> None:
    with (
        httpx.Client(base_url=server.base_url, timeout=READ_TIMEOUT, verify=LOOPBACK_TLS) as client,
        client.stream("GET", "/v1/events/stream") as response,
    ):
        lines = response.iter_lines()
        assert next(lines).startswith(":")  # streaming
        server.process.send_signal(signal.SIGTERM)
        rest = list(lines)  # to the stream's end: a clean close, not a cut connection
    assert not [line for line in rest if line.startswith(("data:", "id:"))]
    assert server.process.wait(READ_TIMEOUT) == 0, server.output()


def test_serve_dispatches_webhooks(database_url: str, tmp_path: Path) -> None:
    receiver = Receiver()
    with ReceiverServer(receiver) as target:
        server = Server(
            {"STOCKROOM_DATABASE_URL": database_url, "STOCKROOM_WEBHOOKS_ALLOW_PRIVATE": "true"},
            workdir=tmp_path,
        )
        try:
            server.wait_ready()
            created = httpx.post(
                f"{server.base_url}/v1/webhooks", json={"url": target.url}, verify=LOOPBACK_TLS
            )
            assert created.status_code == 201, created.text
            receiver.secret = created.json()["secret"]
            _create(server.base_url, "D-1")
            wait_until(receiver.unique, within=60, what="a delivery")
            assert server.terminate() == 0, server.output()
        finally:
            if server.process.poll() is None:
                server.kill()
    (message,) = receiver.unique().values()
    assert message.verified
    assert message.body["data"]["sku"] == "D-1"
