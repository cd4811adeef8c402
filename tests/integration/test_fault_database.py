"""PostgreSQL stopped for 30 s under load, with a batch in flight: ingest keeps running, says it is unhealthy,
recovers by itself, and every PUBACKed reading is stored exactly once; the deteriorating patient whose
readings arrived during the outage gets exactly one alert.

The fault is placed by the test: the writer is held (``readings`` locked) until ingest has received the
in-flight messages, then PostgreSQL is stopped, which also ends the lock, so the batch in hand certainly
fails mid-commit. The shared PostgreSQL is started again in ``finally`` for the tests after this one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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
from vward import services
from vward.config import Settings
from vward.ephemeral import EphemeralServices, free_port

_INDEX = 1
OUTAGE_S = 30.0  # the figure; the outage is the fault's duration, nothing is timed against it


def _start_postgres(svc: EphemeralServices) -> None:
    services.start_postgres(svc.base, svc.ports.postgres, user="vward", password="test-pw", database="vward")


def test_postgres_stopped_30_s_under_load_loses_nothing_and_ingest_recovers_by_itself(
    settings: Settings, test_services: EphemeralServices, clean_db: psycopg.Connection, tmp_path: Path
) -> None:
    kits = admit_patients(clean_db, settings, 6)
    probe, kits = kits[0], kits[1:]
    port = free_port()
    log = tmp_path / "ingest.log"
    ingest = start_ingest(settings, _INDEX, port, log, ingest_device_cache_ttl_s="1", ingest_heartbeat_interval_s="1")
    publisher = loadgen_client(settings)
    published = 0
    start = datetime.now(UTC) - timedelta(hours=20)  # after admission (a day ago), room for a reading a second
    try:
        wait_until(lambda: health(port)[0] == 200, "ingest health")
        publish_all(publisher, numbered_messages(kits, 0, 500, start=start))
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 500, "the first 500 committed")
        with writer_held(settings):
            publish_all(publisher, numbered_messages(kits, 500, 1000, start=start))
            wait_until(lambda: metric(port, "vward_ingest_messages_received_total") >= 1500, "1000 in flight")
            services.stop_postgres(test_services.base)
        published = 1500
        try:
            wait_until(lambda: health(port)[0] == 503, "ingest to report the outage")
            body = health(port)[1]
            assert body["dependencies"] == {"broker": True, "database": False, "redis": True}, body
            assert metric(port, 'vward_ingest_dependency_up{dependency="database"}') == 0.0
            publish_all(publisher, deteriorating_messages(probe, datetime.now(UTC)))
            published += 3
            ends = time.monotonic() + OUTAGE_S
            while time.monotonic() < ends:  # load throughout the outage: every message gets its PUBACK
                publish_all(publisher, numbered_messages(kits, published, 100, start=start))
                published += 100
                time.sleep(0.2)
            assert ingest.poll() is None, "ingest exited during the database outage"
        finally:
            _start_postgres(test_services)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            wait_until(lambda: count(conn, "SELECT count(*) FROM readings") >= published, "every reading", 180)
            wait_until(lambda: health(port)[0] == 200, "ingest healthy again")
            assert ingest.poll() is None
            assert count(conn, "SELECT count(*) FROM readings") == published
            assert count(conn, "SELECT count(DISTINCT (device_id, measured_at)) FROM readings") == published
            assert count(conn, "SELECT count(*) FROM quarantine") == 0
            assert conn.execute("SELECT admission_id, risk FROM alerts").fetchall() == [(probe["admission_id"], "high")]
            wait_until(
                lambda: count(conn, "SELECT count(*) FROM heartbeats WHERE component = 'ingest' AND instance = '1'"),
                "ingest's heartbeat",
            )
    finally:
        close(publisher)
        _start_postgres(test_services)
        stop_ingest(ingest)
        drop_session(settings, _INDEX)
    warnings = log.read_text().count("database unavailable")
    assert 1 <= warnings <= 2, f"{warnings} outage warnings in {OUTAGE_S:.0f} s: one per process per minute"
