"""Session consistency across processes: the `Stockroom-Session` header (docs/deploy.md).

One shared `Session` object per request, in a context variable the units of work read and
update, so a write made in another task is still seen here when the response starts.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.db.replicas import Session, current_session, format_lsn, parse_lsn

HEADER: Final = "Stockroom-Session"
_HEADER_KEY: Final = HEADER.lower().encode("latin-1")
_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

DESCRIPTION: Final = (
    "Consistency token (sent when read replicas are configured): the position of this write "
    f"in the database's log. Send it back as `{HEADER}` on later reads, to any process, to be "
    "served data at least that recent."
)


def _session(scope: Scope) -> Session:
    for name, value in scope["headers"]:
        if name == _HEADER_KEY:
            lsn = parse_lsn(value.decode("latin-1"))
            return Session(floor=lsn, unknown=lsn is None)
    return Session()


class ConsistencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = _session(scope)
        token = current_session.set(session)

        async def send_token(message: Message) -> None:
            if (
                message["type"] == "http.response.start"
                and session.written is not None
                and message["status"] < 400
            ):
                message["headers"] = [
                    *message.get("headers", ()),
                    (_HEADER_KEY, format_lsn(session.written).encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_token)
        finally:
            current_session.reset(token)


def document_session_header(method: str, operation: dict[str, Any]) -> None:
    """Document the header: on every successful write's response, optional on every read."""
    if method.upper() in _WRITES:
        for status, response in operation.get("responses", {}).items():
            if status.startswith("2"):
                response.setdefault("headers", {})[HEADER] = {
                    "description": DESCRIPTION,
                    "schema": {"type": "string", "example": "0/16B3748"},
                }
    elif method.upper() == "GET":
        operation.setdefault("parameters", []).append(
            {
                "name": HEADER,
                "in": "header",
                "required": False,
                "description": (
                    "A consistency token from an earlier write's response: the answer is at "
                    "least as recent as that write."
                ),
                "schema": {"type": "string"},
            }
        )
