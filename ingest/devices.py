"""Which admission each device reports for: a cache of the devices table, refreshed in bulk.

Ingest looks a device up for every message, so the lookup must not cost a query. The cache is reloaded
every ``ttl_s``; a device not in it is looked up once directly (it may have just been registered) and
remembered, found or not, until the next reload. An assignment change (admission, discharge, SpO2 scale)
therefore reaches ingest within ``ttl_s``; the scale used for scoring is read from the admission itself.

The lookups run on paho's thread, so a database outage must not raise out of them (it used to escape
``client.loop`` and end the process): a failed reload keeps serving the cache it has and tries again
after a back-off; only a device the cache cannot answer for raises ``DirectoryUnavailable``, and ingest
holds that message, unacknowledged, until the database is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg

from ingest.decode import DeviceAssignment
from ingest.outage import OutageLog

log = logging.getLogger(__name__)
_QUERY = (
    "SELECT d.id, a.id, a.admitted_at, coalesce(a.spo2_scale, 1) FROM devices d"
    " LEFT JOIN admissions a ON a.id = d.admission_id AND a.discharged_at IS NULL"
)
_RETRY_MAX_S = 5.0  # how long, at most, between attempts while the database is unreachable


class DirectoryUnavailable(RuntimeError):
    """The database is unreachable and the cache does not know this device."""


class DeviceDirectory:
    def __init__(
        self, conn_factory: Callable[[], psycopg.Connection], ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._conn_factory = conn_factory
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, DeviceAssignment | None] = {}
        self._loaded_at = -float("inf")
        self._retry_at = -float("inf")
        self._retry_delay = 0.5
        self._outage = OutageLog(log)

    @property
    def available(self) -> bool:
        """False while the database is unreachable (since the last failed query)."""
        return self._retry_at == -float("inf")

    def lookup(self, device_id: str) -> DeviceAssignment | None:
        now = self._clock()
        if now - self._loaded_at > self._ttl_s and now >= self._retry_at:
            self._query(self._reload)
        known = device_id in self._known
        if not known and (now < self._retry_at or not self._query(lambda: self._lookup_one(device_id))):
            raise DirectoryUnavailable(device_id)
        return self._known[device_id]

    def _query(self, action: Callable[[], None]) -> bool:
        """Runs ``action``; on a database outage backs off and returns False instead of raising."""
        try:
            action()
        except psycopg.OperationalError as exc:
            now = self._clock()
            self._retry_at = now + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, _RETRY_MAX_S)
            self._outage.warn("database", f"device directory: database unavailable ({exc}); using cache", now=now)
            return False
        if not self.available:
            self._outage.recovered("database", "device directory: database reachable again")
        self._retry_at, self._retry_delay = -float("inf"), 0.5
        return True

    def _reload(self) -> None:
        with self._conn_factory() as conn:
            rows = conn.execute(_QUERY).fetchall()
        self._known = {row[0]: _assignment(row) for row in rows}
        self._loaded_at = self._clock()

    def _lookup_one(self, device_id: str) -> None:
        with self._conn_factory() as conn:
            row = conn.execute(_QUERY + " WHERE d.id = %s", (device_id,)).fetchone()
        self._known[device_id] = _assignment(row) if row else None


def _assignment(row: tuple[Any, ...]) -> DeviceAssignment:
    device_id, admission_id, admitted_at, scale = row
    return DeviceAssignment(device_id, admission_id, admitted_at, int(scale))
