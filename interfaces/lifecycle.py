"""Starting and stopping the container's resources: shared by the HTTP lifespan, the CLI and
scripts, so each takes the same path (and the CLI does not import the web app to get it)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from infrastructure.container import Container
from infrastructure.settings import Settings


async def init_container(container: Container) -> None:
    # Resolving the engine may start and migrate the embedded database: keep it off the loop.
    await asyncio.to_thread(container.engine)
    result = container.init_resources()
    if inspect.isawaitable(result):
        await result


async def shutdown_container(container: Container) -> None:
    result = container.shutdown_resources()
    if inspect.isawaitable(result):
        await result


@asynccontextmanager
async def open_container(settings: Settings | None = None) -> AsyncIterator[Container]:
    """A ready container (database resolved, embedded server started if none is configured),
    shut down on leaving: what a command or a script runs its use cases with."""
    container = Container()
    if settings is not None:
        # A plain value overrides as providers.Object(value); dependency-injector is not imported
        # here, so that the container module loads it first (see there).
        container.settings.override(settings)
    await init_container(container)
    try:
        yield container
    finally:
        await shutdown_container(container)
