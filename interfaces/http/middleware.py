"""The edge of every request, as two pure ASGI middlewares (no per-request task or body copy).

EdgeMiddleware, outermost, frames, identifies and logs each request. AdmissionMiddleware, inside
CORS (so its answers carry the CORS headers), enforces the body limit, content type and API keys.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interfaces.http.auth import Gate, Principal
from interfaces.http.metrics import UNMATCHED, HttpMetrics
from interfaces.http.problems import problem_response
from interfaces.http.request_context import accept_or_create_request_id
from interfaces.logs import access_logger, request_id_var

_log = logging.getLogger("stockroom.http")
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so FastAPI's body parsing lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {limit} bytes.")


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _unexpected_error(request_id: str) -> Response:
    """Log the exception being handled and answer it without internals."""
    _log.exception("unhandled error while handling the request")
    return problem_response(
        500, "An unexpected error occurred; it has been logged.", request_id=request_id
    )


def _refuse_framing(scope: Scope, headers: dict[bytes, bytes], request_id: str) -> Response | None:
    """A refusal of a request a proxy in front may have read differently (RFC 9112), or None;
    `headers` is the scope's as a dict."""
    hosts = [value for name, value in scope["headers"] if name == b"host"]
    if scope["http_version"] == "1.1" and len(hosts) != 1:
        return problem_response(
            400,
            f"Send exactly one Host header, not {len(hosts)}.",
            request_id=request_id,
            slug="bad-host",
            headers={"Connection": "close"},
        )
    if b"transfer-encoding" not in headers:
        return None
    codings = [
        coding.strip().lower()
        for name, value in scope["headers"]
        if name == b"transfer-encoding"
        for coding in value.decode("latin-1").split(",")
        if coding.strip()
    ]
    if any(coding != "chunked" for coding in codings):
        # The body is framed but encoded in a way nothing here decodes.
        return problem_response(
            501,
            "Only the chunked transfer coding is supported.",
            request_id=request_id,
            slug="unsupported-transfer-coding",
            title="Not Implemented",
            headers={"Connection": "close"},
        )
    return None


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.access = access_logger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope["headers"])
        request_id = accept_or_create_request_id(headers.get(b"x-request-id"))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        edge_headers = [
            (b"x-request-id", request_id.encode()),
            (b"x-content-type-options", b"nosniff"),
        ]
        method = scope["method"]
        head = method == "HEAD"
        # The app gets a copy: the server reads the method of its own scope to frame the response.
        inner = {**scope, "method": "GET"} if head else scope
        began = time.perf_counter()
        started = False
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *edge_headers]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            refused = _refuse_framing(scope, headers, request_id)
            if refused is not None:
                await refused(scope, receive, send_with_headers)
            else:
                await self.app(inner, receive, send_with_headers)
        except Exception:
            response = _unexpected_error(request_id)
            if started:
                raise
            await response(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - began
            template = getattr(inner.get("route"), "path", UNMATCHED)
            self.metrics.observe(method, template, status, elapsed)
            fields = {"cause": state["cause"]} if "cause" in state else {}
            if state.get("key_id"):
                fields["key"] = state["key_id"]
            self.access.info(
                "request",
                method=method,
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                **fields,
            )
            request_id_var.reset(token)


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, gate: Gate) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope["state"]["request_id"]
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            rejection = self._admit(scope, request_id)
            if rejection is not None:
                await rejection(scope, receive, tracking_send)
            else:
                await self.app(scope, self._limit(receive), tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            response = problem_response(413, exc.detail, request_id=request_id, slug="too-large")
            await response(scope, receive, tracking_send)
        except Exception:
            response = _unexpected_error(request_id)
            if started:
                raise
            await response(scope, receive, tracking_send)

    def _admit(self, scope: Scope, request_id: str) -> Response | None:
        """A response refusing the request before it reaches the app, or None to let it in."""
        method = scope["method"]
        headers = dict(scope["headers"])
        if method in _BODY_METHODS:
            refused = self._check_body(headers, request_id)
            if refused is not None:
                return refused
        credentials = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(credentials) > 1:
            # Which one would count is anybody's guess (proxies keep the first, others the last).
            return problem_response(
                400,
                f"Send one Authorization header, not {len(credentials)}.",
                request_id=request_id,
                slug="ambiguous-credentials",
            )
        admitted = self.gate.check(method, scope["path"], credentials[0] if credentials else None)
        scope["state"]["key_id"] = admitted.key_id
        if isinstance(admitted, Principal):
            scope["state"]["principal"] = admitted
            return None
        return problem_response(
            admitted.status, admitted.detail, request_id=request_id, headers=admitted.headers
        )

    def _check_body(self, headers: dict[bytes, bytes], request_id: str) -> Response | None:
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return problem_response(
                413,
                f"The request body exceeds the limit of {self.max_body_bytes} bytes.",
                request_id=request_id,
                slug="too-large",
            )
        content_type = headers.get(b"content-type")
        has_body = b"transfer-encoding" in headers or length not in (None, b"0")
        if (content_type is None and has_body) or (
            content_type is not None and not _is_json(content_type.decode("latin-1"))
        ):
            return problem_response(
                415,
                "Request bodies must be JSON (Content-Type: application/json).",
                request_id=request_id,
                slug="unsupported-media-type",
                headers={"Accept-Post": "application/json", "Accept-Patch": "application/json"},
            )
        return None

    def _limit(self, receive: Receive) -> Receive:
        """Count the body as it streams in; a chunked body past the limit stops at the limit."""
        received = 0
        limit = self.max_body_bytes

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited
