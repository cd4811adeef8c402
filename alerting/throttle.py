"""Warnings during an outage, at most one per key per minute with a count of those held back.

A Redis or PostgreSQL outage makes every loop iteration fail the same way; logging each one buries the
one line an operator needs (a hub once wrote one a second). The first is logged at once, the rest are
counted and reported with the next one logged after the interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

WARNING_INTERVAL_S = 60.0


class WarningThrottle:
    """Per-process: logs ``key``'s warning if none was logged in the last ``interval_s``, else counts it."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval_s: float = WARNING_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: object) -> bool:
        """Logs (returns True) or counts (False) one occurrence of ``key``'s warning."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        held = self._held.pop(key, 0)
        self._last[key] = now
        if held:
            self.logger.warning(message + " (%d more like this since the last)", *args, held)
        else:
            self.logger.warning(message, *args)
        return True

    def held(self, key: str) -> int:
        """How many of ``key``'s warnings were counted but not yet reported."""
        return self._held.get(key, 0)
