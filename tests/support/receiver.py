"""A real webhook receiver on loopback: records what it is sent, verifies Standard Webhooks
signatures with its own copy of the secret, and fails on demand for a while."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from application.events import FeedEntry
from tests.support.ports import free_port


@dataclass
class Received:
    message_id: str
    body: dict[str, Any]
    verified: bool


@dataclass
class Receiver:
    secret: str = ""
    #: Answer this status (instead of 200) until `failing_until` (time.monotonic()).
    failure_status: int = 500
    failing_until: float = 0.0
    #: Sent with the failure status, when set.
    retry_after: str | None = None
    #: Seconds each request takes before it is answered (deliveries stay in flight a while).
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_for(self, seconds: float, status: int = 500) -> None:
        self.failure_status = status
        self.failing_until = time.monotonic() + seconds

    def unique(self) -> dict[str, Received]:
        """De-duplicated by webhook-id: the first of each."""
        with self.lock:
            seen: dict[str, Received] = {}
            for message in self.received:
                seen.setdefault(message.message_id, message)
            return seen

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        if time.monotonic() < self.failing_until:
            with self.lock:
                self.failures += 1
            return self.failure_status
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        with self.lock:
            self.received.append(Received(headers["webhook-id"], json.loads(body), verified))
        return 200


def _closed(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class ReceiverServer:
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        port = free_port()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                time.sleep(receiver.delay)
                if _closed(self.connection):
                    # The sender went away before an answer: like a proxy that aborts the
                    # upstream request then, this receiver never takes it in.
                    return
                status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                if status >= 300 and receiver.retry_after is not None:
                    self.send_header("retry-after", receiver.retry_after)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ReceiverServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def assert_exactly_the_feed(receiver: Receiver, feed: list[FeedEntry]) -> None:
    """Every event of the feed arrived, signed, de-duplicated by id to exactly the feed, and each
    item's versions in order (repeats included)."""
    unique = receiver.unique()
    assert all(message.verified for message in receiver.received), "a signature did not verify"
    assert set(unique) == {f"evt_{entry.event.id}" for entry in feed}
    per_item: dict[str, list[int]] = {}
    for message in receiver.received:  # in arrival order, repeats included
        data = message.body["data"]
        per_item.setdefault(data["item_id"], []).append(data["version"])
    for versions in per_item.values():
        assert versions == sorted(versions), f"versions out of order: {versions}"
