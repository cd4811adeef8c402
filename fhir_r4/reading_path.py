"""Where the FHIR door meets the one reading path (``readings/``): the device's admission is looked up here,
the time checks and the store (observation sets, scoring, alert raising) are the reading path's own, in the
caller's transaction, exactly as for an MQTT reading."""

from __future__ import annotations

from datetime import datetime

import psycopg

from fhir_r4.intake import DeviceReading
from readings.columns import AcceptedReading
from readings.path import time_limits
from readings.store import store_readings as store
from readings.validation import check_time
from vward.config import Settings

_ASSIGNMENTS = (
    "SELECT d.id, a.id, a.admitted_at FROM devices d"
    " LEFT JOIN admissions a ON a.id = d.admission_id AND a.discharged_at IS NULL WHERE d.id = ANY(%s)"
)


def store_readings(
    conn: psycopg.Connection, readings: list[DeviceReading], *, settings: Settings, now: datetime
) -> list[tuple[str, str] | None]:
    """Stores and scores the readings an MQTT message would carry, and returns, per reading, None if accepted
    or (quarantine reason, detail) if the path refused it. Does not commit."""
    found: dict[str, tuple[int | None, datetime | None]] = {
        row[0]: (row[1], row[2])
        for row in conn.execute(_ASSIGNMENTS, (sorted({r.device_id for r in readings}),)).fetchall()
    }
    limits = time_limits(settings)
    verdicts: list[tuple[str, str] | None] = []
    accepted = []
    for r in readings:
        if r.device_id not in found:
            verdicts.append(("unknown_device", f"device {r.device_id} is not registered"))
            continue
        admission_id, admitted_at = found[r.device_id]
        if admission_id is None:
            verdicts.append(("unassigned_device", f"device {r.device_id} is not on an active admission"))
            continue
        refusal = check_time(r.reading.measured_at, admitted_at, now=now, limits=limits)
        if refusal is not None:
            verdicts.append((refusal.value, f"measured at {r.reading.measured_at.isoformat()}"))
            continue
        verdicts.append(None)
        values = r.reading.model_dump(exclude={"measured_at"}, exclude_none=True)
        accepted.append(AcceptedReading(r.device_id, admission_id, r.reading.measured_at, now, **values))
    store(conn, accepted, settings=settings, now=now)
    return verdicts
