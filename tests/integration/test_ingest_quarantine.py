"""Per-reading quarantine through real MQTT ingest: a bad reading of a batch is quarantined alone and the
good ones stored; a reading contradicting a stored one is a conflict with both values kept; an identical
redelivery is a counted skip; duplicate JSON keys are refused. Counts are exact."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.worker import IngestWorker
from tests.integration.mqtt_helpers import admit_patients, close, count, device_client, publish_all, wait_until
from vward.config import Settings
from vward.contract import readings_topic


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _sample(worker: IngestWorker, name: str, **labels: str) -> float:
    return worker.metrics.registry.get_sample_value(name, labels) or 0.0


def _committed(worker: IngestWorker) -> float:
    """Readings and messages the worker has finished with: stored, skipped or quarantined."""
    quarantined = sum(
        sample.value
        for metric in worker.metrics.quarantined.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )
    return (
        _sample(worker, "vward_ingest_readings_stored_total")
        + _sample(worker, "vward_ingest_readings_duplicate_total")
        + quarantined
    )


def _publish(settings: Settings, device: str, payloads: list[bytes]) -> None:
    client = device_client(settings, device)
    publish_all(client, [(readings_topic(device), payload) for payload in payloads])
    close(client)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{{"measured_at":"{at}","spo2":150}}', "impossible_value"),
        ('{{"measured_at":"{at}","hr":80,"colour":"red"}}', "unknown_field"),
        ('{{"measured_at":"{naive}","hr":80}}', "wrong_type"),
        ('{{"measured_at":"{at}","hr":70,"hr":150}}', "duplicate_key"),
    ],
)
def test_nine_good_readings_are_stored_and_the_bad_one_quarantined_alone(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: IngestWorker, bad: str, reason: str
) -> None:
    device = str(admit_patients(clean_db, settings, 1)[0]["wearable"])
    now = datetime.now(UTC).replace(microsecond=0)
    times = [now - timedelta(minutes=10 - k) for k in range(10)]
    items = [json.dumps({"measured_at": _iso(t), "hr": 70 + k}) for k, t in enumerate(times)]
    items[4] = bad.format(at=_iso(times[4]), naive=times[4].replace(tzinfo=None).isoformat())
    _publish(settings, device, [('{"readings":[' + ",".join(items) + "]}").encode()])

    wait_until(lambda: count(clean_db, "SELECT count(*) FROM quarantine") == 1, "the bad reading quarantined")
    assert count(clean_db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 9
    assert clean_db.execute("SELECT array_agg(hr::int ORDER BY measured_at) FROM readings").fetchone() == (
        [70, 71, 72, 73, 75, 76, 77, 78, 79],
    )
    got_reason, got_device, detail, payload = clean_db.execute(
        "SELECT reason, device_id, detail, payload FROM quarantine"
    ).fetchone()  # type: ignore[misc]
    assert (got_reason, got_device) == (reason, device)
    assert detail.startswith("readings.4")
    assert bytes(payload) == items[4].encode()  # the refused reading as it was sent, duplicate keys and all


def test_a_contradicting_reading_is_a_conflict_with_both_values_and_a_redelivery_a_counted_skip(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: IngestWorker
) -> None:
    device = str(admit_patients(clean_db, settings, 1)[0]["wearable"])
    at = _iso(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5))
    first = json.dumps({"measured_at": at, "hr": 70}).encode()
    _publish(settings, device, [first])
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 1, "the first reading stored")

    _publish(settings, device, [json.dumps({"measured_at": at, "hr": 150}).encode()])
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM quarantine") == 1, "the conflict quarantined")
    reason, detail, payload = clean_db.execute("SELECT reason, detail, payload FROM quarantine").fetchone()  # type: ignore[misc]
    assert reason == "conflict" and "70" in detail and "150" in detail
    assert json.loads(bytes(payload)) == {
        "measured_at": at.replace("Z", "+00:00"),
        "stored": {"hr": 70.0},
        "incoming": {"hr": 150.0},
    }
    assert clean_db.execute("SELECT hr FROM readings").fetchall() == [(70.0,)]
    # The writer process commits, then reports: the count follows the row (on a busy machine, seen later than it).
    wait_until(lambda: _sample(running_ingest, "vward_ingest_quarantined_total", reason="conflict") >= 1, "counted")
    assert _sample(running_ingest, "vward_ingest_quarantined_total", reason="conflict") == 1

    before = _committed(running_ingest)
    _publish(settings, device, [first])  # an identical redelivery
    wait_until(lambda: _committed(running_ingest) > before, "the redelivery handled")
    assert _sample(running_ingest, "vward_ingest_readings_duplicate_total") == 1
    assert count(clean_db, "SELECT count(*) FROM quarantine") == 1
    assert count(clean_db, "SELECT count(*) FROM readings") == 1


def test_within_one_batch_a_repeat_is_skipped_and_a_contradiction_quarantined(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: IngestWorker
) -> None:
    device = str(admit_patients(clean_db, settings, 1)[0]["wearable"])
    now = datetime.now(UTC).replace(microsecond=0)
    a, b = _iso(now - timedelta(minutes=3)), _iso(now - timedelta(minutes=2))
    batch = {"readings": [{"measured_at": a, "hr": 70}, {"measured_at": a, "hr": 70}, {"measured_at": a, "hr": 150}]}
    batch["readings"].append({"measured_at": b, "hr": 72})
    _publish(settings, device, [json.dumps(batch).encode()])

    wait_until(lambda: count(clean_db, "SELECT count(*) FROM quarantine") == 1, "the contradiction quarantined")
    assert clean_db.execute("SELECT array_agg(hr::int ORDER BY measured_at) FROM readings").fetchone() == ([70, 72],)
    payload = clean_db.execute("SELECT payload FROM quarantine WHERE reason = 'conflict'").fetchone()
    assert payload is not None and json.loads(bytes(payload[0]))["incoming"] == {"hr": 150.0}
    wait_until(lambda: _sample(running_ingest, "vward_ingest_readings_duplicate_total") == 1, "the repeat counted")


def test_duplicate_keys_of_a_message_quarantine_it(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: IngestWorker
) -> None:
    device = str(admit_patients(clean_db, settings, 1)[0]["wearable"])
    at = _iso(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    payload = f'{{"readings":[{{"measured_at":"{at}","hr":70}}],"readings":[{{"measured_at":"{at}","hr":150}}]}}'
    _publish(settings, device, [payload.encode()])
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM quarantine") == 1, "the message quarantined")
    row = clean_db.execute("SELECT reason, payload FROM quarantine").fetchone()
    assert row is not None and row[0] == "duplicate_key" and bytes(row[1]) == payload.encode()
    assert count(clean_db, "SELECT count(*) FROM readings") == 0
