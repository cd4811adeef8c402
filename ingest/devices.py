"""Which admission each device reports for: a cache of the devices table, refreshed in bulk.

Ingest looks a device up for every message, so the lookup must not cost a query. The cache is reloaded
every ``ttl_s``; a device not in it is looked up once directly (it may have just been registered) and
remembered, found or not, until the next reload. An assignment change (admission, discharge, SpO2 scale)
therefore reaches ingest within ``ttl_s``; the scale used for scoring is read from the admission itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from ingest.decode import DeviceAssignment

_QUERY = (
    "SELECT d.id, a.id, a.admitted_at, coalesce(a.spo2_scale, 1) FROM devices d"
    " LEFT JOIN admissions a ON a.id = d.admission_id AND a.discharged_at IS NULL"
)


class DeviceDirectory:
    def __init__(
        self, conn_factory: Callable[[], psycopg.Connection], ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._conn_factory = conn_factory
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, DeviceAssignment | None] = {}
        self._loaded_at = -float("inf")

    def lookup(self, device_id: str) -> DeviceAssignment | None:
        if self._clock() - self._loaded_at > self._ttl_s:
            self._reload()
        if device_id not in self._known:
            with self._conn_factory() as conn:
                row = conn.execute(_QUERY + " WHERE d.id = %s", (device_id,)).fetchone()
            self._known[device_id] = _assignment(row) if row else None
        return self._known[device_id]

    def _reload(self) -> None:
        with self._conn_factory() as conn:
            rows = conn.execute(_QUERY).fetchall()
        self._known = {row[0]: _assignment(row) for row in rows}
        self._loaded_at = self._clock()


def _assignment(row: tuple[Any, ...]) -> DeviceAssignment:
    device_id, admission_id, admitted_at, scale = row
    return DeviceAssignment(device_id, admission_id, admitted_at, int(scale))
