"""Purging change-feed events past retention, in the background of a serving process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from application.errors import DataStoreUnavailable
from infrastructure.container import Container

_log = logging.getLogger("stockroom.events")
#: How often events past retention are purged (any process may do it: batches skip nothing).
EVENT_PURGE_INTERVAL_SECONDS: Final = 5 * 60


async def purge_events_periodically(container: Container, stop: asyncio.Event) -> None:
    """Purge now and every interval until `stop` is set (waited for, never cancelled: see the
    idempotency purge in interfaces/http/app.py)."""
    purge = container.event_purger()
    while not stop.is_set():
        try:
            purged = await purge()
            if purged:
                _log.info("purged %d change-feed events past retention", purged)
        except DataStoreUnavailable:
            _log.warning("could not purge change-feed events: database unavailable")
        except Exception:  # e.g. not migrated yet: keep serving, say why, try again later
            _log.exception("could not purge change-feed events")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), EVENT_PURGE_INTERVAL_SECONDS)
