"""A reading that repeats a stored (device, measurement time) is compared on everything it says, a child's
hand-entered extras included: the same values are a redelivery, any other value a conflict with both kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

from readings.columns import AcceptedReading
from readings.store import StoreResult, store_readings
from tests.integration.mqtt_helpers import admit_patients
from vward.config import Settings


def _store(conn: psycopg.Connection, settings: Settings, reading: AcceptedReading) -> StoreResult:
    with conn.transaction():
        return store_readings(conn, [reading], settings=settings, now=reading.received_at)


def test_a_child_reading_differing_only_in_an_extra_is_a_conflict_with_both_values(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    admission = int(admit_patients(clean_db, settings, 1, ward_code="paediatric", child=True)[0]["admission_id"])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    visit = AcceptedReading(
        "manual-nurse", admission, t0, t0, rr=30, hr=120, resp_distress="mild", crt=1.5, carer_answer="S"
    )
    assert _store(clean_db, settings, visit) == StoreResult(1, 0)

    again = visit._replace(received_at=t0 + timedelta(minutes=1))
    assert _store(clean_db, settings, again) == StoreResult(0, 1, 0)  # a redelivery, extras and all

    for changed in (
        {"resp_distress": "severe"},
        {"crt": 3.5},
        {"carer_answer": "W"},
        {"sepsis_suspicion": True},
        {"o2_device": "high_flow"},
    ):
        assert _store(clean_db, settings, visit._replace(**changed)) == StoreResult(0, 0, 1), changed

    rows = clean_db.execute("SELECT reason, detail, payload FROM quarantine ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["conflict"] * 5
    first = json.loads(bytes(rows[0][2]))
    assert first["stored"] == {"rr": 30.0, "hr": 120.0, "resp_distress": "mild", "crt": 1.5, "carer_answer": "S"}
    assert first["incoming"] == first["stored"] | {"resp_distress": "severe"}
    assert "'resp_distress': 'mild'" in rows[0][1] and "'resp_distress': 'severe'" in rows[0][1]
    assert json.loads(bytes(rows[3][2]))["incoming"]["sepsis_suspicion"] is True
    assert "sepsis_suspicion" not in json.loads(bytes(rows[3][2]))["stored"]
    # The stored reading is what the child's score was built on, untouched.
    stored = clean_db.execute("SELECT resp_distress, crt, carer_answer, npews_resp_distress FROM readings").fetchall()
    assert stored == [("mild", 1.5, "S", 1)]
