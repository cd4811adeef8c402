"""The observation state carried between batches: a stored value bands exactly as it did when it arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from readings.columns import AcceptedReading
from readings.store import store_readings
from tests.integration.mqtt_helpers import admit_patients
from vward.config import Settings


def test_a_half_way_temperature_carried_to_a_later_batch_scores_as_it_did_in_its_own(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    admission = int(admit_patients(clean_db, settings, 1)[0]["admission_id"])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    with clean_db.transaction():
        store_readings(
            clean_db, [AcceptedReading("therm-test", admission, t0, t0, temp=38.05)], settings=settings, now=t0
        )
    with clean_db.transaction():
        store_readings(
            clean_db,
            [AcceptedReading("ox-test", admission, t0 + timedelta(minutes=1), t0, hr=70)],
            settings=settings,
            now=t0,
        )
    scores = clean_db.execute("SELECT device_id, score_temp FROM readings ORDER BY measured_at").fetchall()
    assert scores == [("therm-test", 1), ("ox-test", 1)]  # 38.05 rounds half up to 38.1: one point, both times


def test_state_round_trips_every_parameter_and_its_time(settings: Settings, clean_db: psycopg.Connection) -> None:
    admission = int(admit_patients(clean_db, settings, 1)[0]["admission_id"])
    t0 = datetime.now(UTC).replace(microsecond=123456) - timedelta(minutes=30)
    reading = AcceptedReading(
        "kit-test",
        admission,
        t0,
        t0,
        rr=21,
        spo2=93,
        sbp=101,
        dbp=60,
        hr=111,
        temp=35.95,
        on_oxygen=True,
        consciousness="P",
    )
    with clean_db.transaction():
        store_readings(clean_db, [reading], settings=settings, now=t0)
    row = clean_db.execute(
        "SELECT rr, spo2, on_oxygen, sbp, hr, consciousness, temp, rr_at, temp_at, last_reading_at"
        " FROM observation_state WHERE admission_id = %s",
        (admission,),
    ).fetchone()
    assert row is not None
    assert row[:6] == (21, 93, True, 101, 111, "P") and abs(row[6] - 35.95) < 1e-5
    assert row[7:] == (t0, t0, t0)
    later = t0 + timedelta(minutes=5)
    with clean_db.transaction():  # a lone pulse reading is scored with every carried parameter
        store_readings(
            clean_db, [AcceptedReading("kit-test", admission, later, later, hr=111)], settings=settings, now=later
        )
    total, complete = clean_db.execute(
        "SELECT news2_total, news2_complete FROM readings WHERE measured_at = %s", (later,)
    ).fetchone()  # type: ignore[misc]
    # rr 21 → 2, SpO2 93 (scale 1) → 2, oxygen → 2, sBP 101 → 1, pulse 111 → 2, P → 3, 35.95 → 36.0 → 1
    assert (total, complete) == (13, True)
