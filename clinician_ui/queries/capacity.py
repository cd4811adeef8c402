"""Reads for the capacity board: current load per ward, admission intervals for history, today's flow."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from clinician_ui.capacity import CapacityChange, WardLoad


def ward_loads(conn: psycopg.Connection) -> list[WardLoad]:
    with conn.cursor(row_factory=class_row(WardLoad)) as cur:
        return cur.execute(
            "SELECT w.id AS ward_id, w.code, w.name, w.pathway, w.bed_capacity AS capacity,"
            " count(a.id)::int AS occupied FROM wards w"
            " LEFT JOIN admissions a ON a.ward_id = w.id AND a.discharged_at IS NULL"
            " GROUP BY w.id ORDER BY w.pathway, w.name"
        ).fetchall()


def intervals_by_ward(
    conn: psycopg.Connection, *, since: datetime
) -> dict[int, list[tuple[datetime, datetime | None]]]:
    """Each ward's admissions that overlap ``since``..now (transfers count on the current ward)."""
    out: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for ward_id, adm, dis in conn.execute(
        "SELECT ward_id, admitted_at, discharged_at FROM admissions WHERE discharged_at IS NULL OR discharged_at >= %s",
        (since,),
    ):
        out[ward_id].append((adm, dis))
    return out


def capacity_changes(conn: psycopg.Connection) -> list[CapacityChange]:
    """Every ward's capacity changes as (ward_id, changed_at, beds); None (stored as -infinity, which
    Python's datetime cannot hold) is a ward's first capacity, holding since always."""
    rows = conn.execute("SELECT ward_id, nullif(changed_at, '-infinity'), beds FROM ward_capacity_changes").fetchall()
    return [(ward_id, changed_at, beds) for ward_id, changed_at, beds in rows]


def todays_flow(conn: psycopg.Connection, *, day_start: datetime) -> dict[str, Any]:
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE admitted_at >= %(d)s),"
        " count(*) FILTER (WHERE discharged_at >= %(d)s),"
        " count(*) FILTER (WHERE discharged_at IS NULL AND source = 'step_up'),"
        " count(*) FILTER (WHERE discharged_at IS NULL AND source = 'step_down'),"
        " count(*) FILTER (WHERE admitted_at >= %(d)s AND readmission_of IS NOT NULL)"
        " FROM admissions WHERE discharged_at IS NULL OR discharged_at >= %(d)s OR admitted_at >= %(d)s",
        {"d": day_start},
    ).fetchone()
    assert row is not None
    keys = ("admitted_today", "discharged_today", "step_up", "step_down", "readmissions_today")
    return dict(zip(keys, row, strict=True))
