"""Which admission each device reports for: a cache of the devices table, refreshed in bulk.

Ingest looks a device up for every message, so the lookup must not cost a query. The cache is reloaded
every ``ttl_s``, after the first load in the background (``background``, a thread by default): reloading
tens of thousands of devices on paho's thread stalled every message behind it, which was most of the
p99 publish → alert at low load. A device not in it is looked up once directly (it may have just been registered) and
remembered, found or not, until the next reload. An assignment change (admission, discharge, SpO2 scale)
therefore reaches ingest within ``ttl_s``; the scale used for scoring is read from the admission itself.

The lookups run on paho's thread, so a database outage must not raise out of them (it used to escape
``client.loop`` and end the process): a failed reload keeps serving the cache it has and tries again
after a back-off; only a device the cache cannot answer for raises ``DirectoryUnavailable``, and ingest
holds that message, unacknowledged, until the database is back.
"""

from __future__ import annotations

import logging
import threading
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


def _in_thread(action: Callable[[], None]) -> None:
    threading.Thread(target=action, name="device-directory-reload", daemon=True).start()


class DeviceDirectory:
    def __init__(
        self,
        conn_factory: Callable[[], psycopg.Connection],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        background: Callable[[Callable[[], None]], None] = _in_thread,
    ) -> None:
        self._conn_factory = conn_factory
        self._ttl_s = ttl_s
        self._clock = clock
        self._background = background
        self._state = threading.Lock()  # the back-off state, updated by paho's thread and by a reload
        self._reloading = False
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
            if self._loaded_at == -float("inf"):
                self._query(self._reload)  # nothing to answer from yet
            elif not self._reloading:
                self._reloading = True
                self._background(self._reload_in_background)
        cache = self._known  # a reload may swap it meanwhile: answer from one dict
        if device_id in cache:
            return cache[device_id]
        found: list[DeviceAssignment | None] = []
        if now < self._retry_at or not self._query(lambda: found.append(self._lookup_one(device_id))):
            raise DirectoryUnavailable(device_id)
        return found[0]

    def _reload_in_background(self) -> None:
        try:
            self._query(self._reload)
        finally:
            self._reloading = False

    def _query(self, action: Callable[[], None]) -> bool:
        """Runs ``action``; on a database outage backs off and returns False instead of raising."""
        try:
            action()
        except psycopg.OperationalError as exc:
            with self._state:
                now = self._clock()
                self._retry_at = now + self._retry_delay
                self._retry_delay = min(self._retry_delay * 2, _RETRY_MAX_S)
                self._outage.warn("database", f"device directory: database unavailable ({exc}); using cache", now=now)
            return False
        with self._state:
            if not self.available:
                self._outage.recovered("database", "device directory: database reachable again")
            self._retry_at, self._retry_delay = -float("inf"), 0.5
        return True

    def _reload(self) -> None:
        with self._conn_factory() as conn:
            rows = conn.execute(_QUERY).fetchall()
        self._known = {row[0]: _assignment(row) for row in rows}  # one assignment: lookups see old or new
        self._loaded_at = self._clock()

    def _lookup_one(self, device_id: str) -> DeviceAssignment | None:
        with self._conn_factory() as conn:
            row = conn.execute(_QUERY + " WHERE d.id = %s", (device_id,)).fetchone()
        self._known[device_id] = assignment = _assignment(row) if row else None
        return assignment


def _assignment(row: tuple[Any, ...]) -> DeviceAssignment:
    device_id, admission_id, admitted_at, scale = row
    return DeviceAssignment(device_id, admission_id, admitted_at, int(scale))
