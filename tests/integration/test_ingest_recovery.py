"""`kill -9` of ingest with a batch in flight, more published while it is down than Mosquitto's default
queue holds (1,000), then a restart with the same index: every PUBACKed reading stored exactly once.

The moment of the kill is the test's, not the machine's: the writer is held (the test locks ``readings``)
so the batches ingest has received are certainly uncommitted and unacknowledged when it dies.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from tests.integration.mqtt_helpers import (
    admit_patients,
    close,
    count,
    deteriorating_messages,
    drop_session,
    health,
    loadgen_client,
    metric,
    numbered_messages,
    publish_all,
    start_ingest,
    stop_ingest,
    wait_until,
    writer_held,
)
from vward.config import Settings
from vward.ephemeral import free_port

_INDEX = 1  # running_ingest uses 0


def test_kill_9_mid_burst_then_restart_loses_and_duplicates_nothing(
    settings: Settings, clean_db: psycopg.Connection, tmp_path: Path
) -> None:
    kits = admit_patients(clean_db, settings, 6)
    probe, kits = kits[0], kits[1:]
    port = free_port()
    ingest = start_ingest(settings, _INDEX, port, tmp_path / "ingest.log")
    try:
        wait_until(lambda: health(port)[0] == 200, "ingest health")
        publisher = loadgen_client(settings)
        publish_all(publisher, numbered_messages(kits, 0, 1000))
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 1000, "the first 1000 committed")
        with writer_held(settings):
            publish_all(publisher, numbered_messages(kits, 1000, 3000))
            publish_all(publisher, deteriorating_messages(probe, datetime.now(UTC)))
            received = "vward_ingest_messages_received_total"
            wait_until(lambda: metric(port, received) >= 4003, "ingest to hold 3003 uncommitted", 120)
            ingest.send_signal(signal.SIGKILL)
            ingest.wait(30)
        assert count(clean_db, "SELECT count(*) FROM readings") <= 4000
        publish_all(publisher, numbered_messages(kits, 4000, 2500))  # > Mosquitto's default queue of 1000
        close(publisher)

        ingest = start_ingest(settings, _INDEX, port, tmp_path / "ingest.log")
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") >= 6503, "every reading", 180)
        wait_until(lambda: health(port)[0] == 200, "ingest health")
        assert count(clean_db, "SELECT count(*) FROM readings") == 6503
        assert count(clean_db, "SELECT count(DISTINCT (device_id, measured_at)) FROM readings") == 6503
        assert count(clean_db, "SELECT count(*) FROM quarantine") == 0
        alerts = clean_db.execute("SELECT admission_id, risk FROM alerts").fetchall()
        assert alerts == [(probe["admission_id"], "high")], "the deteriorating patient's alert, exactly once"
        assert metric(port, "vward_ingest_readings_stored_total") >= 2500
    finally:
        stop_ingest(ingest)
        drop_session(settings, _INDEX)
