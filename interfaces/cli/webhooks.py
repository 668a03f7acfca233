"""`stockroom webhooks add | list | remove | dispatch`: subscriptions, and a dispatcher alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from infrastructure.container import Container

app = typer.Typer(help="Webhook subscriptions and their dispatcher.", no_args_is_help=True)


def _echo_json(body: object) -> None:
    import orjson  # noqa: PLC0415  (see main.py: loaded to run)

    typer.echo(orjson.dumps(body, option=orjson.OPT_UTC_Z).decode())


@app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="Where events are POSTed.")],
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this event type (repeatable).")
    ] = None,
    secret: Annotated[str | None, typer.Option(help="whsec_... (default: a new one).")] = None,
) -> None:
    """Subscribe a URL; prints the subscription with its secret (shown only now) as JSON."""
    from interfaces.cli.failures import reported_failures  # noqa: PLC0415
    from interfaces.scripting import run_with_container  # noqa: PLC0415
    from interfaces.webhooks_json import present_subscription  # noqa: PLC0415

    async def work(container: Container) -> None:
        subscription = await container.manage_webhooks().add(url, event_type or (), secret)
        _echo_json(present_subscription(subscription, secret=True))

    with reported_failures():
        run_with_container(work)


@app.command("list")
def list_() -> None:
    """The subscriptions, one JSON object per line (secrets not shown)."""
    from interfaces.cli.failures import reported_failures  # noqa: PLC0415
    from interfaces.scripting import run_with_container  # noqa: PLC0415
    from interfaces.webhooks_json import present_subscription  # noqa: PLC0415

    async def work(container: Container) -> None:
        for subscription in await container.manage_webhooks().list():
            _echo_json(present_subscription(subscription))

    with reported_failures():
        run_with_container(work)


@app.command("remove")
def remove(subscription_id: Annotated[str, typer.Argument(help="The subscription's id.")]) -> None:
    """Remove a subscription; its pending deliveries are dropped."""
    from uuid import UUID  # noqa: PLC0415

    from interfaces.cli.failures import fail, reported_failures  # noqa: PLC0415
    from interfaces.scripting import run_with_container  # noqa: PLC0415

    try:
        wanted = UUID(subscription_id)
    except ValueError:
        raise fail(f"not a subscription id: {subscription_id!r}", code=2) from None

    async def work(container: Container) -> None:
        await container.manage_webhooks().remove(wanted)

    with reported_failures():
        run_with_container(work)


@app.command("dispatch")
def dispatch() -> None:
    """Deliver webhooks until SIGTERM or Ctrl-C, then finish the deliveries in flight."""
    from interfaces.cli.failures import reported_failures  # noqa: PLC0415
    from interfaces.scripting import run_with_container  # noqa: PLC0415

    async def work(container: Container) -> None:
        import asyncio  # noqa: PLC0415
        import signal  # noqa: PLC0415

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await container.webhook_dispatcher().run(stop)

    with reported_failures():
        run_with_container(work)
