"""The one place the FHIR door meets the reading path (validation of device and time, observation sets,
NEWS2 scoring, storage and alert raising, in the caller's transaction).

TEMPORARY: that path lives in ``ingest/`` today and is being moved to a ``readings/`` package; at merge,
re-point the imports in :func:`store_readings` (and nothing else in ``fhir_r4``). This is the only module of
``fhir_r4`` that imports ``ingest``, and only inside the function, so the rest of the door never does.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from fhir_r4.intake import DeviceReading
from vward.config import Settings

_ASSIGNMENTS = (
    "SELECT d.id, a.id, a.admitted_at, coalesce(a.spo2_scale, 1) FROM devices d"
    " LEFT JOIN admissions a ON a.id = d.admission_id AND a.discharged_at IS NULL WHERE d.id = ANY(%s)"
)


def store_readings(
    conn: psycopg.Connection, readings: list[DeviceReading], *, settings: Settings, now: datetime
) -> list[tuple[str, str] | None]:
    """Stores and scores the readings an MQTT message would carry, exactly as ingest does, and returns, per
    reading, None if accepted or (quarantine reason, detail) if the path refused it. Does not commit."""
    from ingest.columns import AcceptedReading
    from ingest.decode import DeviceAssignment, Limits, check_device, check_reading
    from ingest.store import store_readings as store

    found = {
        row[0]: DeviceAssignment(row[0], row[1], row[2], int(row[3]))
        for row in conn.execute(_ASSIGNMENTS, (sorted({r.device_id for r in readings}),)).fetchall()
    }
    limits = Limits(settings.ingest_max_payload_bytes, settings.ingest_late_window, settings.ingest_future_tolerance)
    verdicts: list[tuple[str, str] | None] = []
    accepted = []
    for r in readings:
        assignment = found.get(r.device_id)
        rejection = check_device(r.device_id, assignment)
        if rejection is not None:
            verdicts.append((rejection.reason.value, rejection.detail))
            continue
        assert assignment is not None and assignment.admission_id is not None
        reason = check_reading(r.reading, assignment, now=now, limits=limits)
        if reason is not None:
            verdicts.append((reason.value, f"measured at {r.reading.measured_at.isoformat()}"))
            continue
        verdicts.append(None)
        values = r.reading.model_dump(exclude={"measured_at"})
        accepted.append(AcceptedReading(r.device_id, assignment.admission_id, r.reading.measured_at, now, **values))
    store(conn, accepted, settings=settings, now=now)
    return verdicts
