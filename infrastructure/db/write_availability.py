"""Whether writes reach a primary, as this process's writes find it: the failovers it saw and
how long writes were unavailable, for /metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

from application.errors import DataStoreUnavailable
from infrastructure.db.errors import primary_lost


@dataclass(slots=True)
class WriteAvailability:
    failovers: int = 0  # times writes came back after losing their primary
    _unavailable_seconds: float = 0.0
    _lost_at: float | None = None

    def observe(self, error: BaseException | None) -> None:
        """The end of a unit that wrote, `error` the failure it ended with (None: committed)."""
        if error is None:
            if self._lost_at is not None:
                self.failovers += 1
                self._unavailable_seconds += time.monotonic() - self._lost_at
                self._lost_at = None
        elif self._lost_at is None and isinstance(error, DataStoreUnavailable):
            cause = error.__cause__
            if cause is not None and primary_lost(cause):
                self._lost_at = time.monotonic()

    @property
    def unavailable_seconds(self) -> float:
        """Seconds writes were unavailable, the current outage included."""
        ongoing = 0.0 if self._lost_at is None else time.monotonic() - self._lost_at
        return self._unavailable_seconds + ongoing
