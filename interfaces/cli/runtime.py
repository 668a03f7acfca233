"""Running a command's use cases: the container, started and shut down exactly as the HTTP app's
lifespan does it (interfaces/lifecycle.py), so a command takes the same code path as a request.
The container and everything under it is imported when a command first needs it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from interfaces.cli.config import load_settings
from interfaces.cli.failures import reported_failures

if TYPE_CHECKING:
    from infrastructure.container import Container

T = TypeVar("T")


def run_with_container(work: Callable[[Container], Coroutine[Any, Any, T]]) -> T:
    """Load the settings, run `work` with a ready container on a fresh event loop, shut down.

    A bad setting exits 2; an expected failure (domain error, database unreachable) prints one
    `error: ...` line and exits 1 (as `typer.Exit`), never a traceback; a closed stdout ends it
    quietly with the status of a closed pipe.
    """
    import asyncio  # noqa: PLC0415  (see the module's docstring)

    from interfaces.lifecycle import open_container  # noqa: PLC0415

    settings = load_settings()
    _collect_from_now_on()

    async def main() -> T:
        async with open_container(settings) as container:
            return await work(container)

    with reported_failures():
        return asyncio.run(main())


def _collect_from_now_on() -> None:
    """Turn the garbage collector back on when the console script turned it off for loading
    (interfaces/cli/main.py), leaving out of its walks everything loaded so far: the modules and
    the settings live until exit."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
