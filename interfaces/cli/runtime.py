"""Running use cases outside HTTP: the container every command (and script) works with.

The container is built, started and shut down exactly as the HTTP app's lifespan does it
(`init_container` / `shutdown_container`), so a command takes the same code path as a request.
The container and everything under it is imported when a command first needs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from interfaces.cli.config import load_settings
from interfaces.cli.failures import fail, reported_failures

if TYPE_CHECKING:
    from application.errors import DataStoreUnavailable
    from infrastructure.container import Container
    from infrastructure.settings import Settings

T = TypeVar("T")


@asynccontextmanager
async def open_container(settings: Settings | None = None) -> AsyncIterator[Container]:
    """A ready container (database resolved, embedded server started if none is configured)."""
    from dependency_injector import providers  # noqa: PLC0415  (see the module's docstring)

    from infrastructure.container import Container  # noqa: PLC0415
    from interfaces.lifecycle import init_container, shutdown_container  # noqa: PLC0415

    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    await init_container(container)
    try:
        yield container
    finally:
        await shutdown_container(container)


def run_with_container(work: Callable[[Container], Coroutine[Any, Any, T]]) -> T:
    """Load the settings, run `work` with a ready container on a fresh event loop, shut down.

    A bad setting exits 2; an expected failure (domain error, database unreachable) prints one
    `error: ...` line and exits 1 (as `typer.Exit`), never a traceback; a closed stdout ends it
    quietly with the status of a closed pipe.
    """
    import asyncio  # noqa: PLC0415  (see the module's docstring)

    from application.errors import DataStoreUnavailable  # noqa: PLC0415

    settings = load_settings()

    async def main() -> T:
        async with open_container(settings) as container:
            return await work(container)

    with reported_failures():
        try:
            return asyncio.run(main())
        except DataStoreUnavailable as exc:
            raise fail(_unavailable(exc)) from None


def _unavailable(exc: DataStoreUnavailable) -> str:
    cause = exc.__cause__
    if isinstance(cause, OSError):  # refused, unreachable, DNS, connect timeout
        return f"cannot reach the database ({type(cause).__name__})"
    return f"{exc} ({type(cause).__name__})" if cause is not None else str(exc)
