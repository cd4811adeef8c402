"""The hub worker against real PostgreSQL and Redis: clocks with a shrunken clock, missed readings,
a Redis outage during alert raising, and a clean stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from alerting.hub import Hub
from alerting.outbox import publish_pending
from alerting.raising import record_scores
from tests.integration.alert_helpers import admit, events, scored
from vward import services
from vward.config import Settings
from vward.ephemeral import EphemeralServices

NOW = datetime.now(UTC).replace(microsecond=0)
SEC = timedelta(seconds=1)


@pytest.fixture
def hub_conn(settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        yield conn


def stream_events(client: redis.Redis, settings: Settings) -> list[tuple[str, str]]:
    return [(f[b"event_id"].decode(), f[b"event"].decode()) for _, f in client.xrange(settings.alert_stream)]


def test_tick_escalates_and_reminds_with_a_shrunken_clock(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, hub_conn: psycopg.Connection
) -> None:
    fast = settings.model_copy(
        update={
            "target_high_ack": 2 * SEC,
            "target_high_response": 10 * SEC,
            "escalation_reminder_interval": 3 * SEC,
        }
    )
    adm = admit(clean_db, admitted_at=NOW - timedelta(minutes=5))
    clean_db.execute("INSERT INTO observation_state (admission_id, last_reading_at) VALUES (%s, %s)", (adm, NOW))
    record_scores(clean_db, [scored(adm, 8, "high", NOW)], settings=fast, now=NOW)
    hub = Hub(fast, conn=hub_conn, redis_client=redis_client, vapid=None)
    results = [hub.tick(NOW + s * SEC)["changed"] for s in range(1, 9)]
    assert results == [0, 1, 0, 0, 1, 0, 0, 1]  # escalated at +2 s, reminders at +5 s and +8 s
    assert events(clean_db) == ["raised", "escalated", "reminder", "reminder"]
    assert clean_db.execute("SELECT escalation_level, next_reminder_at FROM alerts").fetchone() == (
        3,
        NOW + 11 * SEC,
    )
    assert stream_events(redis_client, fast)[1] == ("2", "escalated")
    notify = redis_client.xrange(fast.alert_stream)[1][1][b"notify"]
    assert notify == b"nurses,coordinators"


def test_missed_readings_raise_once_per_silence(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, hub_conn: psycopg.Connection
) -> None:
    silent = admit(clean_db, admitted_at=NOW - timedelta(hours=7))  # frailty: expects a reading every 6 h
    heard = admit(clean_db, admitted_at=NOW - timedelta(hours=7))
    new = admit(clean_db, admitted_at=NOW - timedelta(hours=1))
    stale = admit(clean_db, ward="resp-copd", admitted_at=NOW - timedelta(days=1))  # every 4 h
    clean_db.execute(
        "INSERT INTO observation_state (admission_id, last_reading_at) VALUES (%s, %s), (%s, %s)",
        (heard, NOW - timedelta(hours=1), stale, NOW - timedelta(hours=5)),
    )
    hub = Hub(settings, conn=hub_conn, redis_client=redis_client, vapid=None)
    assert hub.tick(NOW)["missed_readings"] == 2
    rows = clean_db.execute("SELECT admission_id, trigger, risk, news2_total FROM alerts ORDER BY admission_id")
    assert rows.fetchall() == [
        (silent, "missed_readings", "low", None),
        (stale, "missed_readings", "low", None),
    ]
    clean_db.execute("UPDATE alerts SET status = 'resolved', resolved_at = %s WHERE admission_id = %s", (NOW, silent))
    assert hub.tick(NOW + SEC)["missed_readings"] == 0  # resolved, but still the same silence
    assert new not in [r[0] for r in clean_db.execute("SELECT admission_id FROM alerts").fetchall()]


def test_readings_resuming_close_missed_readings_alerts_then_the_set_is_judged_on_its_own(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, hub_conn: psycopg.Connection
) -> None:
    quiet, worse, nursed = (admit(clean_db, admitted_at=NOW - timedelta(hours=7)) for _ in range(3))
    hub = Hub(settings, conn=hub_conn, redis_client=redis_client, vapid=None)
    assert hub.tick(NOW)["missed_readings"] == 3
    clean_db.execute(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_at = %s WHERE admission_id = %s", (NOW, nursed)
    )
    later = NOW + SEC
    sets = [scored(quiet, 1, "low", later), scored(worse, 5, "medium", later), scored(nursed, 0, "low", later)]
    record_scores(clean_db, sets, settings=settings, now=later)

    rows = clean_db.execute(
        "SELECT admission_id, trigger, risk, status, resolved_by FROM alerts ORDER BY admission_id, id"
    ).fetchall()
    assert rows == [
        (quiet, "missed_readings", "low", "resolved", None),
        (worse, "missed_readings", "low", "resolved", None),
        (worse, "news2", "medium", "raised", None),  # the set that broke the silence raises on its own
        (nursed, "missed_readings", "low", "resolved", None),
    ]
    resumed = clean_db.execute(
        "SELECT a.admission_id, e.actor_id, e.from_status, e.detail->>'observed_at' FROM alert_events e"
        " JOIN alerts a ON a.id = e.alert_id WHERE e.event = 'readings_resumed' ORDER BY a.admission_id"
    ).fetchall()
    assert resumed == [(a, None, status, later.isoformat()) for a, status in
                       ((quiet, "raised"), (worse, "raised"), (nursed, "acknowledged"))]  # fmt: skip
    audited = clean_db.execute("SELECT count(*) FROM audit_log WHERE action = 'alert.readings_resumed'")
    assert audited.fetchone() == (3,)


def test_redis_outage_during_raising_then_the_sweep_publishes_everything(
    clean_db: psycopg.Connection,
    settings: Settings,
    test_services: EphemeralServices,
    hub_conn: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
    adms = [admit(clean_db, admitted_at=NOW - timedelta(hours=1)) for _ in range(4)]
    hub = Hub(settings, conn=hub_conn, redis_client=client, vapid=None)
    try:
        client.flushdb()
        hub.ensure_group()
        services.stop_redis(test_services.base)
        with psycopg.connect(settings.database_url) as ingest:  # ingest: commit, then best-effort publish
            record_scores(ingest, [scored(a, 5, "medium", NOW) for a in adms[:2]], settings=settings, now=NOW)
            ingest.commit()
            assert publish_pending(ingest, client, settings=settings) == 0
        assert hub.tick(NOW + SEC)["published"] == 0  # the hub keeps running its clocks
        with pytest.raises(redis.ConnectionError):
            hub.consume(None)
        record_scores(clean_db, [scored(a, 7, "high", NOW + SEC) for a in adms], settings=settings, now=NOW + SEC)
    finally:
        services.start_redis(test_services.base, test_services.ports.redis)
    try:
        assert any("Redis unavailable" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
        assert hub.tick(NOW + 2 * SEC)["published"] == 6
        assert hub.consume(None) == 6  # Redis came back empty: the group is re-created from the start
        all_events = [str(r[0]) for r in clean_db.execute("SELECT id FROM alert_events ORDER BY id").fetchall()]
        assert [e for e, _ in stream_events(client, settings)] == all_events
        assert clean_db.execute("SELECT count(*) FROM alert_events WHERE NOT published").fetchone() == (0,)
        pending = client.xpending(settings.alert_stream, settings.hub_consumer_group)
        assert pending["pending"] == 0
    finally:
        client.close()


def test_run_stops_cleanly_when_told(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, hub_conn: psycopg.Connection
) -> None:
    quick = settings.model_copy(update={"hub_tick_s": 0.05})
    adm = admit(clean_db, admitted_at=datetime.now(UTC) - timedelta(minutes=5))
    record_scores(clean_db, [scored(adm, 5, "medium", datetime.now(UTC))], settings=quick, now=datetime.now(UTC))
    hub = Hub(quick, conn=hub_conn, redis_client=redis_client, vapid=None)
    stop = threading.Event()
    worker = threading.Thread(target=hub.run, args=(stop,))
    worker.start()
    try:
        for _ in range(200):  # wait (bounded) until the running hub has swept the outbox
            if clean_db.execute("SELECT bool_and(published) FROM alert_events").fetchone() == (True,):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert clean_db.execute("SELECT bool_and(published) FROM alert_events").fetchone() == (True,)


def test_a_redis_outage_is_reported_once_a_minute_while_the_hub_keeps_beating(
    clean_db: psycopg.Connection,
    settings: Settings,
    test_services: EphemeralServices,
    hub_conn: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    quick = settings.model_copy(update={"hub_tick_s": 0.05, "heartbeat_interval_s": 0.05})
    adm = admit(clean_db, admitted_at=NOW - timedelta(hours=1))
    record_scores(clean_db, [scored(adm, 7, "high", NOW)], settings=quick, now=NOW)  # for the outbox to publish
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
    hub = Hub(quick, conn=hub_conn, redis_client=client, vapid=None)
    stop = threading.Event()
    worker = threading.Thread(target=hub.run, args=(stop,))
    services.stop_redis(test_services.base)
    try:
        worker.start()
        for _ in range(600):  # bounded wait until the loop has met the outage several times over
            if hub.warnings.held("redis") >= 3 and hub.warnings.held("outbox") >= 3:
                break
            stop.wait(0.05)
        beats = clean_db.execute("SELECT beat_at FROM heartbeats WHERE component = 'hub'").fetchone()
        assert beats is not None and worker.is_alive()
    finally:
        stop.set()
        worker.join(timeout=30)
        services.start_redis(test_services.base, test_services.ports.redis)
        client.close()
    assert hub.warnings.held("redis") >= 3 and hub.warnings.held("outbox") >= 3
    said = [r.getMessage() for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(said) == 2, said  # one from the loop, one from the outbox sweep: the rest are counted
