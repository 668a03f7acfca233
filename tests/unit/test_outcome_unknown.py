"""A write whose COMMIT went unanswered: its own problem type over HTTP, one line on the CLI."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from application.errors import CommitOutcomeUnknown, DataStoreUnavailable
from interfaces.failures import failure_message
from interfaces.http.errors import install_error_handlers


async def test_over_http_it_is_a_503_that_says_a_retry_with_the_same_key_is_safe() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/write")
    async def write() -> None:
        raise CommitOutcomeUnknown from ConnectionResetError()

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})  # the request's state, as the server's lifespan gives it
        await app(scope, receive, send)

    transport = httpx.ASGITransport(app=with_state)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/write")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/outcome-unknown"
    assert "same Idempotency-Key is safe" in problem["detail"]


def test_on_the_command_line_it_is_one_line_that_says_the_outcome_is_unknown() -> None:
    line = failure_message(CommitOutcomeUnknown())
    assert line is not None
    assert "\n" not in line
    assert "outcome of the write is unknown" in line
    assert failure_message(DataStoreUnavailable()) != line
