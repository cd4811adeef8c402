"""Patients whose alerts were raised by the real domain code (the reading path, the raising rules, the hub's
missed-readings sweep), one per trigger, for the browser tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg

from alerting.clocks import raise_missed_readings
from alerting.raising import LatestSet, record_scores
from readings.columns import AcceptedReading
from readings.store import store_readings
from tests.integration import seeding
from tests.integration.ui_helpers import nhs
from vward.config import Settings


def admit(
    conn: psycopg.Connection,
    n: int,
    family: str,
    *,
    ward: str,
    admitted_at: datetime,
    born: date = date(1941, 5, 6),
    given: str = "Vik",
    sex: str = "male",
) -> int:
    """Vik (a man born 1941 unless said) admitted to ``ward`` at ``admitted_at``; returns the admission id."""
    return seeding.admit(conn, nhs(n), family, given=given, born=born, sex=sex, ward=ward, admitted_at=admitted_at)


def store(
    conn: psycopg.Connection,
    settings: Settings,
    admission_id: int,
    at: datetime,
    device: str | None = None,
    **vitals: object,
) -> None:
    """One reading from one device (the patient's wearable unless said), through the reading path (scored,
    alerts raised, one transaction)."""
    reading = AcceptedReading(
        device_id=device or f"wr-{admission_id:06d}",
        admission_id=admission_id,
        measured_at=at,
        received_at=at,
        **vitals,
    )  # type: ignore[arg-type]
    with conn.transaction():
        store_readings(conn, [reading], settings=settings, now=at)


NORMAL = {"rr": 16, "spo2": 97, "on_oxygen": False, "sbp": 120, "dbp": 75, "hr": 70, "temp": 37.0}
HIGH_8 = {**NORMAL, "rr": 25, "spo2": 94, "sbp": 105, "hr": 115, "temp": 38.5, "consciousness": "A"}


def seed_news2(conn: psycopg.Connection, settings: Settings, now: datetime) -> int:
    a = admit(conn, 1, "News", ward="frailty", admitted_at=now - timedelta(hours=3))
    store(conn, settings, a, now - timedelta(minutes=5), **HIGH_8)
    return a


def seed_single_parameter(conn: psycopg.Connection, settings: Settings, now: datetime) -> int:
    a = admit(conn, 2, "Single", ward="frailty", admitted_at=now - timedelta(hours=3))
    store(conn, settings, a, now - timedelta(minutes=5), **{**NORMAL, "hr": 135, "consciousness": "A"})
    return a


def seed_trend(conn: psycopg.Connection, settings: Settings, now: datetime) -> int:
    """Eight complete sets at 2 over the day, then two at 4 in the last hour: a sustained rise of 2."""
    a = admit(conn, 3, "Trend", ward="frailty", admitted_at=now - timedelta(days=1))
    stored = [(now - timedelta(hours=h), 2) for h in range(2, 10)] + [(now - timedelta(minutes=m), 4) for m in (40, 0)]
    for at, total in stored:
        conn.execute(
            "INSERT INTO readings (measured_at, device_id, admission_id, received_at, news2_total,"
            " news2_complete, news2_risk) VALUES (%s, 'wr-trend', %s, %s, %s, true, 'low')",
            (at, a, at, total),
        )
    latest = LatestSet(a, now, 4, "low", True, (1, 0, 0, 1, 1, 1, 0))
    with psycopg.connect(settings.database_url) as tx:
        record_scores(tx, [latest], settings=settings, now=now)
    return a


def seed_missed_readings(conn: psycopg.Connection, settings: Settings, now: datetime) -> int:
    """Admitted 2 h 10 min ago on a ward expecting a reading every hour, and nothing since."""
    conn.execute("UPDATE wards SET expected_reading_minutes = 60 WHERE code = 'surgical'")
    a = admit(conn, 4, "Silent", ward="surgical", admitted_at=now - timedelta(hours=2, minutes=10))
    with psycopg.connect(settings.database_url) as tx:
        assert raise_missed_readings(tx, settings=settings, now=now) == 1
    return a
