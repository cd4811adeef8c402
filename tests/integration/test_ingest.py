"""Ingest against the real broker and database: stored once, scored, quarantined with a reason, never lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from tests.integration.mqtt_helpers import (
    admit_patients,
    close,
    count,
    device_client,
    loadgen_client,
    publish_all,
    wait_until,
)
from vward.config import Settings
from vward.contract import encode_readings, readings_topic


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_published_reading_is_stored_with_its_values(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: object
) -> None:
    kit = admit_patients(clean_db, settings, 1)[0]
    measured = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    client = device_client(settings, str(kit["pulse_oximeter"]))
    payload = json.dumps({"measured_at": _iso(measured), "spo2": 95, "hr": 112, "on_oxygen": False}).encode()
    publish_all(client, [(readings_topic(str(kit["pulse_oximeter"])), payload)])
    close(client)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 1, "the reading")
    row = clean_db.execute(
        "SELECT device_id, admission_id, measured_at, spo2, hr, on_oxygen, news2_complete, score_spo2, score_pulse,"
        " score_air_oxygen, score_rr, news2_total FROM readings"
    ).fetchone()
    assert row == (kit["pulse_oximeter"], kit["admission_id"], measured, 95.0, 112.0, False, False, 1, 2, 0, None, 3)


def test_a_burst_of_thousands_is_stored_exactly_once(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: object
) -> None:
    kits = admit_patients(clean_db, settings, 4)
    start = datetime.now(UTC) - timedelta(hours=2)
    messages = []
    for i in range(3000):
        kit = kits[i % 4]
        measured = start + timedelta(seconds=2 * i)
        messages.append(
            (
                readings_topic(str(kit["wearable"])),
                encode_readings([{"measured_at": _iso(measured), "rr": 16 + i % 5, "hr": 70 + i % 20}]),
            )
        )
    messages += messages[:500]  # redelivered by a device that missed its PUBACKs
    client = loadgen_client(settings)
    publish_all(client, messages)
    close(client)
    wait_until(lambda: running_ingest.metrics.received._value.get() >= 3500, "all messages")  # type: ignore[attr-defined]
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 3000, "3000 readings")
    assert count(clean_db, "SELECT count(DISTINCT (device_id, measured_at)) FROM readings") == 3000
    assert count(clean_db, "SELECT count(*) FROM quarantine") == 0


def test_buffered_batch_keeps_original_timestamps_and_scores_each(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: object
) -> None:
    kit = admit_patients(clean_db, settings, 1)[0]
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    items = [{"measured_at": _iso(base + timedelta(minutes=2 * k)), "rr": 18 + k, "hr": 80} for k in range(60)]
    client = device_client(settings, str(kit["wearable"]))
    publish_all(client, [(readings_topic(str(kit["wearable"])), encode_readings(items))])
    close(client)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 60, "60 readings")
    rows = clean_db.execute("SELECT measured_at, rr, score_rr FROM readings ORDER BY measured_at").fetchall()
    assert [r[0] for r in rows] == [base + timedelta(minutes=2 * k) for k in range(60)]
    assert [r[2] for r in rows[:4]] == [0, 0, 0, 2]  # rr 18, 19, 20 score 0; 21 scores 2


def test_deterioration_raises_one_alert_and_publishes_it(
    settings: Settings, clean_db: psycopg.Connection, redis_client: redis.Redis, running_ingest: object
) -> None:
    kit = admit_patients(clean_db, settings, 1)[0]
    now = datetime.now(UTC).replace(microsecond=0)
    client = loadgen_client(settings)
    publish_all(
        client,
        [
            (
                readings_topic(str(kit["wearable"])),
                encode_readings([{"measured_at": _iso(now - timedelta(minutes=3)), "rr": 26, "hr": 125}]),
            ),
            (
                readings_topic(str(kit["pulse_oximeter"])),
                encode_readings(
                    [{"measured_at": _iso(now - timedelta(minutes=2)), "spo2": 91, "hr": 124, "on_oxygen": False}]
                ),
            ),
            (
                readings_topic(str(kit["thermometer"])),
                encode_readings([{"measured_at": _iso(now - timedelta(minutes=1)), "temp": 39.2}]),
            ),
        ],
    )
    close(client)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 3, "readings")
    wait_until(lambda: redis_client.xlen(settings.alert_stream) >= 1, "an alert event on the stream")
    alerts = clean_db.execute("SELECT admission_id, risk, status FROM alerts").fetchall()
    assert len(alerts) == 1 and alerts[0][0] == kit["admission_id"] and alerts[0][2] == "raised"
    assert alerts[0][1] == "high"  # rr 3 + spo2 3 + pulse 2 + temp 2 (air 0) = 10, a floor: bp and ACVPU missing


def test_each_kind_of_bad_message_is_quarantined_with_its_reason(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: object
) -> None:
    kit = admit_patients(clean_db, settings, 1)[0]
    clean_db.execute(
        "INSERT INTO devices (id, kind, serial, mqtt_password_hash) VALUES ('ox-999999', 'pulse_oximeter', 'S', 'x')"
    )
    now = datetime.now(UTC)
    ox = str(kit["pulse_oximeter"])
    good = {"measured_at": _iso(now), "spo2": 96}
    cases = {
        "malformed_json": (ox, b'{"measured_at": '),
        "wrong_type": (ox, json.dumps({"measured_at": _iso(now), "spo2": "ninety"}).encode()),
        "missing_field": (ox, json.dumps({"spo2": 96}).encode()),
        "impossible_value": (ox, json.dumps({"measured_at": _iso(now), "spo2": 130}).encode()),
        "future_timestamp": (ox, json.dumps({"measured_at": _iso(now + timedelta(hours=1)), "spo2": 96}).encode()),
        "too_late": (ox, json.dumps({"measured_at": _iso(now - timedelta(days=4)), "spo2": 96}).encode()),
        "unknown_device": ("ox-123456", json.dumps(good).encode()),
        "unassigned_device": ("ox-999999", json.dumps(good).encode()),
        "oversized_payload": (ox, json.dumps({"readings": [good] * 6000}).encode()),
    }
    client = loadgen_client(settings)
    publish_all(client, [(readings_topic(device), payload) for device, payload in cases.values()])
    publish_all(client, [(readings_topic(ox), json.dumps(good).encode())])  # ingest keeps going
    close(client)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 1, "the good reading")
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM quarantine") == len(cases), "quarantine rows")
    rows = clean_db.execute("SELECT reason, topic, payload, detail FROM quarantine").fetchall()
    by_reason = {r[0]: r for r in rows}
    assert set(by_reason) == set(cases)
    for reason, (device, payload) in cases.items():
        assert by_reason[reason][1] == readings_topic(device)
        assert bytes(by_reason[reason][2]) == payload, reason
        assert by_reason[reason][3]


def test_one_bad_reading_in_a_batch_is_quarantined_alone(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: object
) -> None:
    kit = admit_patients(clean_db, settings, 1)[0]
    now = datetime.now(UTC).replace(microsecond=0)
    items = [{"measured_at": _iso(now - timedelta(minutes=k)), "hr": 80} for k in range(5)]
    items.append({"measured_at": _iso(now + timedelta(hours=2)), "hr": 80})
    client = loadgen_client(settings)
    publish_all(client, [(readings_topic(str(kit["wearable"])), encode_readings(items))])
    close(client)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM quarantine") == 1, "the quarantined reading")
    assert count(clean_db, "SELECT count(*) FROM readings") == 5
    reason, payload = clean_db.execute("SELECT reason, payload FROM quarantine").fetchone()  # type: ignore[misc]
    assert reason == "future_timestamp" and json.loads(bytes(payload))["hr"] == 80


@pytest.fixture
def refuse_rr_77(clean_db: psycopg.Connection) -> Iterator[None]:
    """Makes the database itself refuse any reading with a respiratory rate of 77."""
    clean_db.execute(
        "CREATE FUNCTION test_refuse_rr_77() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF NEW.rr = 77 THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$"
    )
    clean_db.execute(
        "CREATE TRIGGER test_refuse_rr_77 BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION test_refuse_rr_77()"
    )
    yield
    clean_db.execute("DROP TRIGGER test_refuse_rr_77 ON readings")
    clean_db.execute("DROP FUNCTION test_refuse_rr_77()")


def test_a_message_the_database_refuses_is_quarantined_and_the_rest_of_its_batch_stored(
    settings: Settings, clean_db: psycopg.Connection, refuse_rr_77: None, running_ingest: object
) -> None:
    kits = admit_patients(clean_db, settings, 3)
    now = datetime.now(UTC).replace(microsecond=0)
    messages = [
        (readings_topic(str(kit["wearable"])), encode_readings([{"measured_at": _iso(now), "rr": rr}]))
        for kit, rr in zip(kits, (18, 77, 20), strict=True)
    ]
    client = loadgen_client(settings)
    publish_all(client, messages)
    close(client)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM quarantine") == 1, "the refused message")
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 2, "the other readings")
    reason, detail, payload = clean_db.execute("SELECT reason, detail, payload FROM quarantine").fetchone()  # type: ignore[misc]
    assert reason == "refused_by_database" and "refused for the test" in detail
    assert bytes(payload) == messages[1][1]
    assert sorted(r[0] for r in clean_db.execute("SELECT rr FROM readings").fetchall()) == [18, 20]
