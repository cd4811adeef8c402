"""Rate-limited warnings for an outage: one line per minute per process, with how many were held back.

During a PostgreSQL, Redis or broker outage every batch, reload and reconnect fails the same way; logging
each failure measured 287 warnings a minute, which buries the one line an operator needs. Time is a
parameter, so the limiter is pure and tested without sleeping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

OUTAGE_LOG_INTERVAL_S = 60.0


@dataclass
class OutageLog:
    """Logs the first warning of each kind at once, then at most one per ``interval_s`` with a count."""

    logger: logging.Logger
    interval_s: float = OUTAGE_LOG_INTERVAL_S
    _last: dict[str, float] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)

    def warn(self, kind: str, message: str, *, now: float) -> bool:
        """Logs ``message`` unless ``kind`` was logged within the interval; True if it was logged."""
        last = self._last.get(kind)
        if last is not None and now - last < self.interval_s:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        held = self._held.pop(kind, 0)
        suffix = f" ({held} more like this in the last {now - last:.0f} s)" if held and last is not None else ""
        self.logger.warning("%s%s", message, suffix)
        self._last[kind] = now
        return True

    def recovered(self, kind: str, message: str) -> None:
        """Logs the end of an outage of ``kind`` (once) and resets its limiter."""
        if kind in self._last:
            held = self._held.pop(kind, 0)
            del self._last[kind]
            self.logger.info("%s%s", message, f" ({held} warnings held back)" if held else "")
