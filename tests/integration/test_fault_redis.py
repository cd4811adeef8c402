"""Redis stopped for 60 s under load: every reading is stored, the deteriorating patient's alert is raised
exactly once in PostgreSQL at once, and reaches the Redis stream by itself when Redis is back (the outbox);
ingest says it is degraded meanwhile and never exits. The shared Redis is started again in ``finally``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis

from tests.integration.mqtt_helpers import (
    admit_patients,
    close,
    count,
    deteriorating_messages,
    drop_session,
    health,
    loadgen_client,
    numbered_messages,
    publish_all,
    start_ingest,
    stop_ingest,
    wait_until,
)
from vward import services
from vward.config import Settings
from vward.ephemeral import EphemeralServices, free_port

REDIS_OUTAGE_S = 60.0  # the figure: the fault's duration, nothing is timed against it


def test_redis_stopped_60_s_delays_the_alert_event_but_loses_nothing(
    settings: Settings,
    test_services: EphemeralServices,
    clean_db: psycopg.Connection,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    kits = admit_patients(clean_db, settings, 4)
    probe, kits = kits[0], kits[1:]
    start = datetime.now(UTC) - timedelta(hours=20)
    port = free_port()
    log = tmp_path / "ingest.log"
    ingest = start_ingest(settings, 1, port, log, ingest_heartbeat_interval_s="1")
    publisher = loadgen_client(settings)
    published = 0
    try:
        wait_until(lambda: health(port)[0] == 200, "ingest health")
        services.stop_redis(test_services.base)
        try:
            wait_until(lambda: health(port)[0] == 503, "ingest to report Redis down")
            assert health(port)[1]["dependencies"] == {"broker": True, "database": True, "redis": False}
            publish_all(publisher, deteriorating_messages(probe, datetime.now(UTC)))
            published += 3
            ends = time.monotonic() + REDIS_OUTAGE_S
            while time.monotonic() < ends:
                publish_all(publisher, numbered_messages(kits, published, 50, start=start))
                published += 50
                time.sleep(0.5)
            wait_until(lambda: count(clean_db, "SELECT count(*) FROM alerts") == 1, "the alert, in PostgreSQL")
            assert count(clean_db, "SELECT count(*) FROM alert_events WHERE NOT published") >= 1
            assert ingest.poll() is None
        finally:
            services.start_redis(test_services.base, test_services.ports.redis)
        events = count(clean_db, "SELECT count(*) FROM alert_events")
        wait_until(lambda: redis_client.xlen(settings.alert_stream) == events, "the outbox pushed to Redis")
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") >= published, "every reading")
        wait_until(lambda: health(port)[0] == 200, "ingest healthy again")
        assert count(clean_db, "SELECT count(*) FROM readings") == published
        assert count(clean_db, "SELECT count(*) FROM quarantine") == 0
        assert clean_db.execute("SELECT admission_id, risk FROM alerts").fetchall() == [(probe["admission_id"], "high")]
        assert count(clean_db, "SELECT count(*) FROM alert_events WHERE NOT published") == 0
        assert redis_client.xlen(settings.alert_stream) == events  # each event once
    finally:
        close(publisher)
        services.start_redis(test_services.base, test_services.ports.redis)
        stop_ingest(ingest)
        drop_session(settings, 1)
    warnings = log.read_text().count("Redis unavailable")
    assert 1 <= warnings <= 2, f"{warnings} Redis warnings in {REDIS_OUTAGE_S:.0f} s: at most one a minute"
