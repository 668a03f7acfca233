"""Starting and stopping the container's resources: shared by the HTTP lifespan, the CLI and
scripts, so each takes the same path (and the CLI does not import the web app to get it)."""

from __future__ import annotations

import asyncio
import inspect

from infrastructure.container import Container


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
