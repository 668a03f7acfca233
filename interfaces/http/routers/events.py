"""/v1/events: the change feed, by page (`after` a cursor) and as Server-Sent Events.

Both read in commit-safe order in read-only units of work, so a standby may serve them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Final
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, Field
from starlette.responses import Response

from application.events import (
    DEFAULT_EVENT_LIMIT,
    MAX_EVENT_LIMIT,
    EventQuery,
    FeedPosition,
)
from domain.events import EventType
from infrastructure.container import Container
from interfaces.events_json import event_json, present_event
from interfaces.http import draining
from interfaces.http.exact_json import ExactJsonRoute
from interfaces.http.openapi import problems
from interfaces.http.responses import json_response

#: Seconds between two reads of the feed while a stream is idle.
STREAM_POLL_SECONDS: Final = 0.5
#: What a client is told to wait before reconnecting, in milliseconds.
STREAM_RETRY_MS: Final = 1000
_CURSOR_MAX: Final = 64


class EventOut(BaseModel):
    id: int = Field(description="The event's own id (unique; not its place in the feed).")
    cursor: str = Field(description="Resume after this event: `after=` or `Last-Event-ID`.")
    type: EventType
    item_id: UUID
    sku: str
    version: int = Field(description="The item's version after the change (deleted: its last).")
    changes: dict[str, Any] = Field(
        description="New values of the fields changed (a creation: all; a deletion: none)."
    )
    occurred_at: str = Field(description="RFC 3339 time of the change's transaction.")


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None = Field(
        description="Pass as `after` to read on (also when this page is empty: poll with it)."
    )


Cursor = Annotated[str | None, Query(max_length=_CURSOR_MAX, description="An event's cursor.")]
Types = Annotated[
    list[EventType] | None, Query(alias="type", description="Only events of these types.")
]
Limit = Annotated[int, Query(ge=1, le=MAX_EVENT_LIMIT)]


def events_router(
    container: Container,
    *,
    poll_seconds: float = STREAM_POLL_SECONDS,
    is_draining: Callable[[], bool] = draining.is_draining,
) -> APIRouter:
    router = APIRouter(prefix="/v1/events", tags=["events"], route_class=ExactJsonRoute)
    read_events = container.read_events()
    # Proxies close connections idle for long: a stream with nothing new says so now and then.
    keepalive_seconds = container.settings().event_stream_keepalive

    def query(after: str | None, limit: int, item_id: UUID | None, types: Any) -> EventQuery:
        return EventQuery(
            after=FeedPosition.decode(after) if after is not None else None,
            limit=limit,
            item_id=item_id,
            types=frozenset(types) if types else None,
        )

    @router.get(
        "",
        operation_id="listEvents",
        summary="Read the change feed after a cursor, in commit order",
        response_model=EventPage,
        responses={
            **problems(400, 401, 422),
            410: {"description": "Events after the cursor were purged (past retention)."},
        },
    )
    async def list_events(
        after: Cursor = None,
        limit: Limit = DEFAULT_EVENT_LIMIT,
        item_id: UUID | None = None,
        types: Types = None,
    ) -> Response:
        page = await read_events(query(after, limit, item_id, types))
        body = {"items": [present_event(e) for e in page.entries], "next_cursor": page.next_cursor}
        return json_response(body)

    @router.get(
        "/stream",
        operation_id="streamEvents",
        summary="Follow the change feed as Server-Sent Events",
        description=(
            "Each event's `id` is its cursor: a client that reconnects with `Last-Event-ID` "
            "resumes right after the last event it received. Comments keep an idle stream "
            "alive; the stream ends when the server shuts down (reconnect to go on)."
        ),
        # A plain Response: the handler answers a bad cursor with a problem before it streams
        # (FastAPI's own SSE handling would start the stream first).
        response_class=Response,
        responses={
            **problems(400, 401, 422),
            200: {"content": {"text/event-stream": {}}, "description": "The events."},
            410: {"description": "Events after the cursor were purged (past retention)."},
        },
    )
    async def stream_events(
        request: Request,
        after: Cursor = None,
        item_id: UUID | None = None,
        types: Types = None,
    ) -> Response:
        resume = request.headers.get("last-event-id") or after
        start = query(resume, MAX_EVENT_LIMIT, item_id, types)
        first = await read_events(start)  # a bad or expired cursor fails here, as a problem
        return EventSourceResponse(_stream(start, first.entries))

    async def _stream(start: EventQuery, first: list[Any]) -> AsyncIterator[bytes]:
        yield format_sse_event(retry=STREAM_RETRY_MS, comment="stockroom change feed")
        after, entries = start.after, first
        idle = 0.0
        while True:
            for entry in entries:
                yield format_sse_event(
                    data_str=event_json(entry).decode(),
                    event=entry.event.type.value,
                    id=entry.cursor,
                )
            if entries:
                after, idle = entries[-1].position, 0.0
            if is_draining():
                return  # the process is going away: the client reconnects elsewhere
            if len(entries) < start.limit:
                await asyncio.sleep(poll_seconds)
                idle += poll_seconds
                if idle >= keepalive_seconds:
                    yield format_sse_event(comment="keep-alive")
                    idle = 0.0
            page = await read_events(EventQuery(after, start.limit, start.item_id, start.types))
            entries = page.entries

    return router
