"""`stockroom events tail`: the change feed on stdout, from a cursor, optionally following it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from interfaces.cli.failures import fail

if TYPE_CHECKING:
    from application.events import FeedEntry, FeedPosition
    from infrastructure.container import Container

app = typer.Typer(help="The change feed.", no_args_is_help=True)

#: Seconds between two reads of the feed while following it and nothing is new.
FOLLOW_POLL_SECONDS = 0.5


def _position(cursor: str | None) -> FeedPosition | None:
    from application.errors import InvalidCursor  # noqa: PLC0415  (see main.py: loaded to run)
    from application.events import FeedPosition  # noqa: PLC0415

    if cursor is None:
        return None
    try:
        return FeedPosition.decode(cursor)
    except InvalidCursor:
        message = "--after: not a cursor this service issued (use an event's cursor)"
        raise fail(message, code=2) from None


def _line(entry: FeedEntry) -> str:
    import orjson  # noqa: PLC0415

    from interfaces.terminal import plain  # noqa: PLC0415

    event = entry.event
    changes = orjson.dumps(dict(event.changes)).decode()
    when = event.occurred_at.isoformat().replace("+00:00", "Z")
    return plain(
        f"{entry.cursor}  {when}  {event.type.value:<19}  {event.sku}  v{event.version}  {changes}"
    )


@app.command("tail")
def tail(
    after: Annotated[
        str | None, typer.Option(help="Start after this event's cursor (default: the start).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events as they commit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the events after a cursor, in commit order; each line starts with its cursor."""
    from interfaces.cli.failures import reported_failures  # noqa: PLC0415
    from interfaces.scripting import run_with_container  # noqa: PLC0415

    start = _position(after)

    async def work(container: Container) -> None:
        import asyncio  # noqa: PLC0415
        import signal  # noqa: PLC0415
        import sys  # noqa: PLC0415

        from application.events import MAX_EVENT_LIMIT, EventQuery  # noqa: PLC0415
        from application.use_cases import follow as follow_feed  # noqa: PLC0415
        from interfaces.events_json import event_json  # noqa: PLC0415

        read = container.read_events()
        stopping = asyncio.Event()
        if follow:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stopping.set)
        query = EventQuery(after=start, limit=MAX_EVENT_LIMIT)

        def show(entry: FeedEntry) -> None:
            sys.stdout.write((event_json(entry).decode() if as_json else _line(entry)) + "\n")

        if not follow:
            while page := (await read(query)).entries:
                for entry in page:
                    show(entry)
                query = EventQuery(after=page[-1].position, limit=MAX_EVENT_LIMIT)
            return
        async for entry in follow_feed(
            read, query, poll_seconds=FOLLOW_POLL_SECONDS, stop=stopping.is_set
        ):
            show(entry)
            sys.stdout.flush()

    with reported_failures():
        run_with_container(work)
