"""Small builders shared by the alerting integration tests: an admitted patient, a clinician, a set."""

from __future__ import annotations

import random
from datetime import date, datetime

import psycopg

from alerting.raising import LatestSet
from tests.integration import seeding
from vward.nhs_number import random_valid

_rng = random.Random(20250301)


def admit(conn: psycopg.Connection, *, ward: str = "frailty", admitted_at: datetime) -> int:
    """A patient with a random valid NHS number on an open stay; returns the admission id."""
    return seeding.admit(conn, random_valid(_rng), "Jones", born=date(1940, 1, 1), ward=ward, admitted_at=admitted_at)


def clinician(
    conn: psycopg.Connection,
    username: str,
    *,
    role: str = "nurse",
    wards: tuple[str, ...] = ("frailty",),
    on_duty: bool = True,
) -> int:
    row = conn.execute(
        "INSERT INTO users (username, display_name, role, password_hash, on_duty)"
        " VALUES (%s, %s, %s, 'x', %s)"
        " RETURNING id",
        (username, username.title(), role, on_duty),
    ).fetchone()
    assert row is not None
    conn.execute(
        "INSERT INTO user_wards (user_id, ward_id) SELECT %s, id FROM wards WHERE code = ANY(%s)",
        (row[0], list(wards)),
    )
    return int(row[0])


def scored(admission_id: int, total: int, risk: str, at: datetime, complete: bool = True) -> LatestSet:
    subs: tuple[int | None, ...] = (1, 0, 0, 1, 1, 0, 0) if complete else (1, None, None, 1, 1, 0, 0)
    return LatestSet(
        admission_id=admission_id, observed_at=at, total=total, risk=risk, complete=complete, sub_scores=subs
    )


def events(conn: psycopg.Connection, alert_id: int | None = None) -> list[str]:
    rows = conn.execute(
        "SELECT event FROM alert_events WHERE %(a)s::bigint IS NULL OR alert_id = %(a)s ORDER BY id",
        {"a": alert_id},
    ).fetchall()
    return [r[0] for r in rows]
