"""A child's devices through MQTT ingest: NPEWS scored in the reading path; the carer's W from the check-in."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import psycopg
import redis

from tests.integration.mqtt_helpers import admit_patients, close, count, loadgen_client, publish_all, wait_until
from vward.config import Settings
from vward.contract import encode_readings, readings_topic


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _child(conn: psycopg.Connection, settings: Settings, born: date, seed: int) -> dict[str, str | int]:
    kit = admit_patients(conn, settings, 1, seed=seed, ward_code="paediatric", child=True)[0]
    conn.execute(
        "UPDATE patients SET date_of_birth = %s FROM admissions a WHERE a.patient_id = patients.id AND a.id = %s",
        (born, kit["admission_id"]),
    )
    return kit


def test_an_infants_devices_score_12_and_raise_a_high_alert_with_the_reason(
    settings: Settings, clean_db: psycopg.Connection, redis_client: redis.Redis, running_ingest: object
) -> None:
    kit = _child(clean_db, settings, date.today() - timedelta(days=200), seed=31)
    now = datetime.now(UTC).replace(microsecond=0)
    client = loadgen_client(settings)
    publish_all(
        client,
        [
            (readings_topic(str(kit["wearable"])), encode_readings([{"measured_at": _iso(now), "rr": 72, "hr": 185}])),
            (
                readings_topic(str(kit["pulse_oximeter"])),
                encode_readings([{"measured_at": _iso(now), "spo2": 90, "hr": 185, "on_oxygen": False}]),
            ),
        ],
    )
    close(client)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM alerts") == 1, "the alert")
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 2, "the readings")
    alert = clean_db.execute(
        "SELECT score, risk, npews_total, npews_complete, reason, news2_total FROM alerts"
    ).fetchone()
    # RR 4 + SpO2 4 + HR 4 + air 0; distress, BP and CRT need a visit, so 12 is a floor
    assert alert == ("npews", "high", 12, False, "high: PEWS at least 12 (9-12)", None)
    latest = clean_db.execute(
        "SELECT npews_age_band, npews_total, npews_level, news2_total FROM readings ORDER BY device_id LIMIT 1"
    ).fetchone()
    assert latest is not None and latest[0] == 0 and latest[3] is None
    wait_until(lambda: redis_client.xlen(settings.alert_stream) >= 1, "the alert event on the stream")


def test_the_carers_w_from_the_checkin_device_raises_an_alert_awaiting_a_grade(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: object
) -> None:
    kit = _child(clean_db, settings, date.today() - timedelta(days=365 * 3), seed=32)
    now = datetime.now(UTC).replace(microsecond=0)
    client = loadgen_client(settings)
    checkin = readings_topic(str(kit["checkin"]))
    publish_all(
        client,
        [
            (checkin, json.dumps({"measured_at": _iso(now - timedelta(minutes=1)), "carer_answer": "S"}).encode()),
            (checkin, json.dumps({"measured_at": _iso(now), "carer_answer": "W"}).encode()),  # nothing measured yet
            (checkin, json.dumps({"measured_at": _iso(now), "carer_answer": "X"}).encode()),  # not an answer
        ],
    )
    close(client)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM quarantine") == 1, "the bad answer quarantined")
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM alerts") == 1, "the alert")
    alert = clean_db.execute("SELECT trigger, risk, awaiting_grade, reason FROM alerts").fetchone()
    assert alert is not None and alert[:3] == ("npews_concern", "medium", True)
    assert alert[3].startswith("the carer says the child is worse (W): a clinician must choose the level")
    answers = clean_db.execute("SELECT carer_answer FROM readings ORDER BY measured_at").fetchall()
    assert answers == [("S",), ("W",)]
