"""Stores a batch of accepted readings, each scored with NEWS2, and raises alerts, in the caller's transaction.

This is the one path every reading takes, from a device or typed in by a nurse: lock the admissions'
observation state, build each reading's observation set, score the batch in one call of the compiled
scorer, COPY the rows, advance the state, and apply the alert rules to each admission's newest set. The
caller commits; nothing here is visible until then, so no reading is left unscored and no alert exists
for a reading that was not stored. Redeliveries (same device and measurement time) are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import errors

from alerting import news2
from alerting.raising import LatestSet, record_scores
from ingest.observation_sets import SET_PARAMETERS, ParameterState, SetColumns
from vward.config import Settings

_COLUMNS = (
    "measured_at", "device_id", "admission_id", "received_at", "rr", "spo2", "sbp", "dbp", "hr", "temp",
    "on_oxygen", "consciousness", "news2_total", "news2_complete", "news2_risk", "score_rr", "score_spo2",
    "score_air_oxygen", "score_sbp", "score_pulse", "score_consciousness", "score_temp",
)
_TYPES = (
    "timestamptz", "text", "int8", "timestamptz", "float4", "float4", "float4", "float4", "float4", "float4",
    "bool", "text", "int2", "bool", "text", "int2", "int2", "int2", "int2", "int2", "int2", "int2",
)
_COLUMN_LIST = ", ".join(_COLUMNS)


@dataclass(frozen=True, slots=True)
class AcceptedReading:
    """A validated reading from a device (or typed in by a clinician) on an active admission."""

    device_id: str
    admission_id: int
    measured_at: datetime
    received_at: datetime
    rr: float | None = None
    spo2: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    hr: float | None = None
    temp: float | None = None
    on_oxygen: bool | None = None
    consciousness: str | None = None


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: int
    duplicates: int


def store_readings(conn: psycopg.Connection, readings: Sequence[AcceptedReading], *, settings: Settings,
                   now: datetime) -> StoreResult:
    """Scores and stores ``readings`` and applies the alert rules, without committing."""
    if not readings:
        return StoreResult(0, 0)
    by_admission: dict[int, list[AcceptedReading]] = defaultdict(list)
    for reading in readings:
        by_admission[reading.admission_id].append(reading)
    states, scales = _lock_states(conn, sorted(by_admission))

    window = settings.news2_freshness_window
    ordered: list[AcceptedReading] = []
    columns = SetColumns()
    for admission_id, group in by_admission.items():
        state = states[admission_id]
        for reading in sorted(group, key=lambda r: r.measured_at):
            state.merge(reading.measured_at, _set_values(reading))
            columns.append(state, reading.measured_at, window, scales[admission_id])
            ordered.append(reading)
    scores = news2.score(**columns.arrays())
    stored = _copy_rows(conn, [_row(r, scores, i) for i, r in enumerate(ordered)])

    _save_states(conn, states)
    latest = SetColumns()
    newest = {admission_id: state.newest() for admission_id, state in states.items()}
    for admission_id, state in states.items():
        latest.append(state, newest[admission_id], window, scales[admission_id])  # type: ignore[arg-type]
    latest_scores = news2.score(**latest.arrays())
    record_scores(conn, [
        LatestSet(
            admission_id=admission_id,
            observed_at=newest[admission_id],  # type: ignore[arg-type]
            total=int(latest_scores.total[i]),
            risk=news2.RISK_LEVELS[latest_scores.risk[i]],
            complete=bool(latest_scores.complete[i]),
            sub_scores=tuple(None if s == news2.MISSING else int(s) for s in latest_scores.sub_scores[i]),
        )
        for i, admission_id in enumerate(states)
    ], settings=settings, now=now)
    return StoreResult(stored, len(ordered) - stored)


def _set_values(reading: AcceptedReading) -> dict[str, object]:
    return {name: getattr(reading, name) for name in SET_PARAMETERS}


def _row(reading: AcceptedReading, scores: news2.News2Scores, i: int) -> tuple[object, ...]:
    sub = [None if s == news2.MISSING else int(s) for s in scores.sub_scores[i]]
    return (
        reading.measured_at, reading.device_id, reading.admission_id, reading.received_at, reading.rr,
        reading.spo2, reading.sbp, reading.dbp, reading.hr, reading.temp, reading.on_oxygen,
        reading.consciousness, int(scores.total[i]), bool(scores.complete[i]),
        news2.RISK_LEVELS[scores.risk[i]], *sub,
    )


def _lock_states(
    conn: psycopg.Connection, admission_ids: list[int]
) -> tuple[dict[int, ParameterState], dict[int, int]]:
    """Locks (creating if needed) the admissions' observation state rows, in id order to avoid deadlocks."""
    conn.execute(
        "INSERT INTO observation_state (admission_id) SELECT unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
        (admission_ids,),
    )
    cols = ", ".join(f"o.{name}, o.{name}_at" for name in SET_PARAMETERS)
    rows = conn.execute(
        f"SELECT o.admission_id, a.spo2_scale, {cols} FROM observation_state o"
        " JOIN admissions a ON a.id = o.admission_id"
        " WHERE o.admission_id = ANY(%s) ORDER BY o.admission_id FOR UPDATE OF o",
        (admission_ids,),
    ).fetchall()
    states: dict[int, ParameterState] = {}
    scales: dict[int, int] = {}
    for row in rows:
        state = ParameterState()
        for k, name in enumerate(SET_PARAMETERS):
            value, when = row[2 + 2 * k], row[3 + 2 * k]
            if when is not None:
                state.values[name], state.times[name] = value, when
        states[row[0]], scales[row[0]] = state, row[1]
    return states, scales


def _save_states(conn: psycopg.Connection, states: dict[int, ParameterState]) -> None:
    assignments = ", ".join(f"{name} = %({name})s, {name}_at = %({name}_at)s" for name in SET_PARAMETERS)
    params = []
    for admission_id, state in states.items():
        entry: dict[str, object] = {"admission_id": admission_id, "last": state.newest()}
        for name in SET_PARAMETERS:
            entry[name], entry[f"{name}_at"] = state.values.get(name), state.times.get(name)
        params.append(entry)
    with conn.cursor() as cur:
        cur.executemany(
            f"UPDATE observation_state SET {assignments}, last_reading_at = %(last)s"
            " WHERE admission_id = %(admission_id)s",
            params,
        )


def _copy_rows(conn: psycopg.Connection, rows: list[tuple[object, ...]]) -> int:
    """COPYs straight into readings; if a redelivery collides, falls back to a staging table and skips it."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            _copy_into(cur, "readings", rows)
        return len(rows)
    except errors.UniqueViolation:
        pass
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS readings_staging"
                    " (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        cur.execute("TRUNCATE readings_staging")
        _copy_into(cur, "readings_staging", rows)
        cur.execute(f"INSERT INTO readings ({_COLUMN_LIST}) SELECT DISTINCT ON (device_id, measured_at)"
                    f" {_COLUMN_LIST} FROM readings_staging ON CONFLICT DO NOTHING")
        return cur.rowcount


def _copy_into(cur: psycopg.Cursor, table: str, rows: list[tuple[object, ...]]) -> None:
    with cur.copy(f"COPY {table} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(_TYPES))
        for row in rows:
            copy.write_row(row)
