"""The outbox: unpublished alert events reach the Redis stream once, with what a queue row needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import redis

from alerting.outbox import publish_pending
from alerting.raising import record_scores
from tests.integration.alert_helpers import admit, scored
from vward.config import Settings

NOW = datetime.now(UTC).replace(microsecond=0)


def test_publish_pending_sends_each_event_once(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis
) -> None:
    adms = [admit(clean_db, admitted_at=NOW - timedelta(days=1)) for _ in range(5)]
    record_scores(clean_db, [scored(a, 5, "medium", NOW) for a in adms], settings=settings, now=NOW)
    record_scores(clean_db, [scored(adms[0], 7, "high", NOW)], settings=settings, now=NOW)
    assert publish_pending(clean_db, redis_client, settings=settings, limit=4) == 4
    assert publish_pending(clean_db, redis_client, settings=settings) == 2
    assert publish_pending(clean_db, redis_client, settings=settings) == 0
    entries = redis_client.xrange(settings.alert_stream)
    fields = [{k.decode(): v.decode() for k, v in f.items()} for _, f in entries]
    assert [f["event_id"] for f in fields] == [str(i) for i in range(1, 7)]
    last = fields[-1]
    ward = clean_db.execute("SELECT id FROM wards WHERE code = 'frailty'").fetchone()
    assert ward is not None
    assert {
        k: last[k]
        for k in (
            "alert_id",
            "admission_id",
            "ward_id",
            "event",
            "status",
            "risk",
            "news2_total",
            "news2_complete",
            "trigger",
            "notify",
        )
    } == {
        "alert_id": "1",
        "admission_id": str(adms[0]),
        "ward_id": str(ward[0]),
        "event": "risk_increased",
        "status": "raised",
        "risk": "high",
        "news2_total": "7",
        "news2_complete": "1",
        "trigger": "news2",
        "notify": "nurses",
    }
    assert datetime.fromisoformat(last["at"]) == NOW
    assert clean_db.execute("SELECT count(*) FROM alert_events WHERE NOT published").fetchone() == (0,)


def test_rows_locked_by_another_publisher_are_skipped(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis
) -> None:
    adms = [admit(clean_db, admitted_at=NOW - timedelta(days=1)) for _ in range(3)]
    record_scores(clean_db, [scored(a, 5, "medium", NOW) for a in adms], settings=settings, now=NOW)
    with psycopg.connect(settings.database_url) as other:
        other.execute("SELECT id FROM alert_events WHERE id = 1 FOR UPDATE")
        assert publish_pending(clean_db, redis_client, settings=settings) == 2
    assert publish_pending(clean_db, redis_client, settings=settings) == 1
    ids = sorted(int(f[b"event_id"]) for _, f in redis_client.xrange(settings.alert_stream))
    assert ids == [1, 2, 3]
