"""record_scores against the real database: raise, escalate, no duplicates, trend from stored readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from alerting.raising import record_scores
from tests.integration.alert_helpers import admit, events, scored
from vward.config import Settings

NOW = datetime.now(UTC).replace(microsecond=0)


def record(settings: Settings, sets: list, now: datetime = NOW) -> None:
    """Like ingest: its own transaction, committed after record_scores returns."""
    with psycopg.connect(settings.database_url) as conn:
        record_scores(conn, sets, settings=settings, now=now)


def open_alerts(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT admission_id, trigger, risk, status, news2_total, news2_complete,"
        " acknowledge_due_at FROM alerts WHERE status <> 'resolved' ORDER BY admission_id"
    ).fetchall()


def test_raise_escalate_and_no_duplicates(clean_db: psycopg.Connection, settings: Settings) -> None:
    a, b, c = (admit(clean_db, admitted_at=NOW - timedelta(days=1)) for _ in range(3))
    record(
        settings,
        [
            scored(a, 5, "medium", NOW),
            scored(b, 3, "low-medium", NOW, complete=False),
            scored(c, 2, "low", NOW),
        ],
    )
    assert open_alerts(clean_db) == [
        (a, "news2", "medium", "raised", 5, True, NOW + settings.target_medium_ack),
        (b, "single_parameter", "low-medium", "raised", 3, False, NOW + settings.target_low_medium_ack),
    ]
    later = NOW + timedelta(minutes=3)
    record(settings, [scored(a, 6, "medium", later), scored(b, 1, "low", later)], now=later)
    assert events(clean_db) == ["raised", "raised"]  # same or lower risk: nothing new
    record(settings, [scored(a, 8, "high", later), scored(a, 7, "high", later - timedelta(minutes=1))], now=later)
    row = clean_db.execute(
        "SELECT id, risk, status, news2_total, acknowledge_due_at FROM alerts WHERE admission_id = %s", (a,)
    ).fetchone()
    assert row is not None and row[1:] == ("high", "raised", 8, later + settings.target_high_ack)
    assert events(clean_db, row[0]) == ["raised", "risk_increased"]
    assert clean_db.execute("SELECT count(*) FROM alerts").fetchone() == (2,)
    assert clean_db.execute("SELECT count(*) FROM alert_events WHERE published").fetchone() == (0,)


def test_nothing_is_written_if_the_callers_transaction_rolls_back(
    clean_db: psycopg.Connection, settings: Settings
) -> None:
    a = admit(clean_db, admitted_at=NOW - timedelta(days=1))
    with psycopg.connect(settings.database_url) as conn:
        record_scores(conn, [scored(a, 9, "high", NOW)], settings=settings, now=NOW)
        conn.rollback()
    assert open_alerts(clean_db) == []


def _store_reading(conn: psycopg.Connection, admission_id: int, at: datetime, total: int, complete: bool) -> None:
    conn.execute(
        "INSERT INTO readings (measured_at, device_id, admission_id, received_at, news2_total,"
        " news2_complete, news2_risk) VALUES (%s, %s, %s, %s, %s, %s, 'low')",
        (at, f"wr-{admission_id:06d}", admission_id, at, total, complete),
    )


def test_trend_from_the_stored_baseline(clean_db: psycopg.Connection, settings: Settings) -> None:
    rising, steady, short, blip = (admit(clean_db, admitted_at=NOW - timedelta(days=2)) for _ in range(4))
    for hours in range(2, 10):  # eight complete readings at total 1 in the 24 h before the last hour
        for adm in (rising, steady, blip):
            _store_reading(clean_db, adm, NOW - timedelta(hours=hours), 1, True)
    for hours in range(2, 5):  # three readings: too few for a baseline
        _store_reading(clean_db, short, NOW - timedelta(hours=hours), 0, True)
    for minutes in (40, 0):  # the rise, sustained over the last hour (the current set is stored too)
        _store_reading(clean_db, rising, NOW - timedelta(minutes=minutes), 3, True)
        _store_reading(clean_db, short, NOW - timedelta(minutes=minutes), 4, True)
    _store_reading(clean_db, blip, NOW - timedelta(minutes=40), 1, True)
    _store_reading(clean_db, blip, NOW, 3, True)  # one noisy set: the recent median stays at 2
    _store_reading(clean_db, rising, NOW - timedelta(hours=2, minutes=30), 4, False)  # incomplete: not baseline
    _store_reading(clean_db, steady, NOW - timedelta(hours=30), 4, True)  # outside the window
    record(
        settings,
        [
            scored(rising, 3, "low", NOW),
            scored(steady, 2, "low", NOW),
            scored(short, 4, "low", NOW),
            scored(blip, 3, "low", NOW),
        ],
    )
    assert [(r[0], r[1], r[2]) for r in open_alerts(clean_db)] == [(rising, "trend", "low")]
