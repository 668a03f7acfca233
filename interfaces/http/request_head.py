"""Bounds on a request's head (request line and headers): its size and the time to receive it.

uvicorn's httptools protocol bounds neither: a client could make a process buffer any amount of
headers, or hold a connection open forever.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from interfaces.http.problems import PROBLEM_MEDIA_TYPE, problem_type
from interfaces.http.request_context import accept_or_create_request_id

#: What common servers and proxies accept, far beyond what this API's clients send.
MAX_HEAD_BYTES: Final = 16 * 1024


class BoundedHeadProtocol(HttpToolsProtocol):
    """Answers 431 to a head past MAX_HEAD_BYTES, and closes a connection whose head is not
    complete within `header_timeout` seconds of its first byte (or of the connection)."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_head = True
        self.head_bytes = 0
        self.head_started: float | None = None  # when the head being received began
        # One timer at a time, re-armed when it fires rather than on every request.
        self.head_deadline: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()  # a connection that never sends a byte is bounded too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # read and dropped until the client closes or the deadline does
        if not self.in_head:
            super().data_received(data)
            return
        if self.head_started is None:
            self._start_head()
        room = MAX_HEAD_BYTES - self.head_bytes
        if len(data) <= room:
            self.head_bytes += len(data)
            super().data_received(data)
            return
        super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self.in_head:
            self._refuse_head()
            return
        super().data_received(data[room:])

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_started = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head = True  # what comes next is the next request's head
        self.head_bytes = 0

    def _start_head(self) -> None:
        self.head_started = self.loop.time()
        if self.head_deadline is None:
            self.head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_timed_out(self) -> None:
        self.head_deadline = None
        if self.head_started is None or self.transport.is_closing():
            return  # no head in progress: the next one arms the timer again
        left = self.head_started + self.header_timeout - self.loop.time()
        if left > 0:  # the timer was armed for an earlier head
            self.head_deadline = self.loop.call_later(left, self._head_timed_out)
        else:
            self.transport.close()

    def _refuse_head(self) -> None:
        """A 431 problem, then this side is closed; the rest of the head is drained, as closing
        with it unread would reset the connection and lose the answer."""
        self.refused = True
        request_id = accept_or_create_request_id(None)
        body = orjson.dumps(
            {
                "type": problem_type("headers-too-large"),
                "title": "Request Header Fields Too Large",
                "status": 431,
                "detail": f"The request line and headers exceed {MAX_HEAD_BYTES} bytes.",
                "request_id": request_id,
            }
        )
        head = [
            b"HTTP/1.1 431 Request Header Fields Too Large",
            b"content-type: " + PROBLEM_MEDIA_TYPE.encode(),
            b"content-length: " + str(len(body)).encode(),
            b"x-request-id: " + request_id.encode(),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.write_eof()


def with_header_timeout(seconds: float) -> type[BoundedHeadProtocol]:
    """The protocol class uvicorn is given, with the configured time limit on a head."""

    class Protocol(BoundedHeadProtocol):
        header_timeout = seconds

    return Protocol
