"""Running use cases from a command or a script on the container the HTTP API uses; `exit_status`
turns the expected failures into one-line messages and exit statuses."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from interfaces.configuration import ConfigurationError, load_configured_settings
from interfaces.failures import (
    CLOSED_PIPE,
    checked_stdout,
    failure_message,
    say,
    stop_writing_stdout,
)

if TYPE_CHECKING:
    from infrastructure.container import Container

T = TypeVar("T")


def run_with_container(work: Callable[[Container], Coroutine[Any, Any, T]]) -> T:
    """Load the settings, run `work` with a ready container on a fresh event loop, shut down."""
    # Imported here: a command's `--help` and usage errors never load the container.
    from interfaces.lifecycle import open_container  # noqa: PLC0415

    settings = load_configured_settings()
    if not gc.isenabled():
        # What is loaded by now lives until exit: keep it out of the collector's walks.
        gc.freeze()
        gc.enable()

    async def main() -> T:
        async with open_container(settings) as container:
            return await work(container)

    return asyncio.run(main())


def exit_status(script: Callable[[], object]) -> int:
    """Run `script`; return the status to exit with: 0 done, 1 an expected failure, 2 a bad
    setting, 141 when the reader of stdout has gone. Anything else propagates."""
    with checked_stdout():
        try:
            script()
            sys.stdout.flush()  # here, so that failing to write what is still buffered is reported
        except BrokenPipeError:
            stop_writing_stdout()
            return CLOSED_PIPE
        except Exception as exc:
            message = failure_message(exc)
            if message is None:
                raise
            say(f"error: {message}")
            return 2 if isinstance(exc, ConfigurationError) else 1
    return 0
