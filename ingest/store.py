"""Stores a batch of accepted readings, each scored with NEWS2, and raises alerts, in the caller's transaction.

This is the one path every reading takes, from a device or typed in by a nurse: lock the admissions'
observation state, build each reading's observation set, score the batch in one call of the compiled
scorer, COPY the rows, advance the state, and apply the alert rules to each admission's newest set. The
caller commits; nothing here is visible until then, so no reading is left unscored and no alert exists
for a reading that was not stored. Redeliveries (same device and measurement time) are skipped.

Sets and scores are built column-wise (``observation_sets``); the only per-reading Python left is
turning the readings into columns and the scores back into COPY rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
import psycopg
from psycopg import errors

from alerting import news2
from alerting.raising import LatestSet, record_scores
from ingest.observation_sets import (
    CONSCIOUSNESS_CODES,
    CONSCIOUSNESS_LETTERS,
    NEVER,
    SET_PARAMETERS,
    States,
    build_sets,
    code,
    current_sets,
    from_micros,
    scorer_columns,
    to_micros,
)
from vward.config import Settings


class AcceptedReading(NamedTuple):
    """A validated reading from a device (or typed in by a clinician) on an active admission.

    A tuple in the readings table's column order, so a COPY row is the reading plus its scores.
    """

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


_COLUMNS = (
    *AcceptedReading._fields, "news2_total", "news2_complete", "news2_risk", "score_rr", "score_spo2",
    "score_air_oxygen", "score_sbp", "score_pulse", "score_consciousness", "score_temp",
)
_TYPES = (
    "text", "int8", "timestamptz", "timestamptz", "float4", "float4", "float4", "float4", "float4", "float4",
    "bool", "text", "int2", "bool", "text", "int2", "int2", "int2", "int2", "int2", "int2", "int2",
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_FIELD = {name: k for k, name in enumerate(AcceptedReading._fields)}
_RISKS = np.array(news2.RISK_LEVELS, dtype=object)


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: int
    duplicates: int


def store_readings(conn: psycopg.Connection, readings: Sequence[AcceptedReading], *, settings: Settings,
                   now: datetime, raise_alerts: bool = True) -> StoreResult:
    """Scores and stores ``readings`` and applies the alert rules, without committing.

    ``raise_alerts=False`` is for importing history (readings are scored exactly the same, but nobody is
    paged about the past); every live path raises alerts.
    """
    if not readings:
        return StoreResult(0, 0)
    columns = list(zip(*readings, strict=True))
    admission_ids, admission = np.unique(np.array(columns[_FIELD["admission_id"]], dtype=np.int64),
                                         return_inverse=True)
    states, scales = _lock_states(conn, admission_ids.tolist())
    at = np.fromiter(map(to_micros, columns[_FIELD["measured_at"]]), dtype=np.int64, count=len(readings))
    window = settings.news2_freshness_window
    sets = build_sets(admission, at, _set_values(columns), states, window)
    scores = news2.score(**scorer_columns(sets.values, scales[admission]))
    stored = _copy_rows(conn, [r + s for r, s in zip(readings, _score_rows(scores), strict=True)])

    _save_states(conn, admission_ids, sets.states)
    if not raise_alerts:
        return StoreResult(stored, len(readings) - stored)
    current, newest = current_sets(sets.states, window)
    known = newest != NEVER  # an admission whose readings carried no NEWS2 parameter has no set yet
    latest = news2.score(**scorer_columns(current[known], scales[known]))
    observed = [from_micros(t) for t in newest[known].tolist()]
    record_scores(conn, [
        LatestSet(admission_id=admission_id, observed_at=observed_at, total=total, risk=risk, complete=complete,
                  sub_scores=tuple(sub))
        for admission_id, observed_at, (total, complete, risk, *sub) in zip(
            admission_ids[known].tolist(), observed, _score_rows(latest), strict=True)
    ], settings=settings, now=now)
    return StoreResult(stored, len(readings) - stored)


def _set_values(columns: list[tuple[object, ...]]) -> np.ndarray:
    """The readings' NEWS2 parameters as (n, 7) float64 (NumPy turns None into NaN)."""
    values = np.empty((len(columns[0]), len(SET_PARAMETERS)))
    for k, name in enumerate(SET_PARAMETERS):
        column = columns[_FIELD[name]]
        if name == "consciousness":
            column = tuple(np.nan if c is None else CONSCIOUSNESS_CODES[c] for c in column)  # type: ignore[index]
        values[:, k] = np.array(column, dtype=np.float64)
    return values


def _score_rows(scores: news2.News2Scores) -> list[tuple[object, ...]]:
    """Per row: total, complete, risk name and the seven sub-scores (None where missing), as Python values."""
    sub = scores.sub_scores.astype(object)
    sub[scores.sub_scores == news2.MISSING] = None
    return list(zip(scores.total.tolist(), scores.complete.tolist(), _RISKS[scores.risk].tolist(),
                    *sub.T.tolist(), strict=True))


def _lock_states(conn: psycopg.Connection, admission_ids: list[int]) -> tuple[States, np.ndarray]:
    """Locks (creating if needed) the admissions' observation state rows, in id order to avoid deadlocks."""
    conn.execute(
        "INSERT INTO observation_state (admission_id) SELECT unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
        (admission_ids,),
    )
    cols = ", ".join(f"o.{name}, o.{name}_at" for name in SET_PARAMETERS)
    rows = conn.execute(
        f"SELECT a.spo2_scale, {cols} FROM observation_state o"
        " JOIN admissions a ON a.id = o.admission_id"
        " WHERE o.admission_id = ANY(%s) ORDER BY o.admission_id FOR UPDATE OF o",
        (admission_ids,),
    ).fetchall()
    states = States.empty(len(rows))
    for i, row in enumerate(rows):
        for k, name in enumerate(SET_PARAMETERS):
            value, when = row[1 + 2 * k], row[2 + 2 * k]
            if when is not None:
                states.values[i, k], states.times[i, k] = code(name, value), to_micros(when)
    return states, np.array([row[0] for row in rows], dtype=np.int8)


def _save_states(conn: psycopg.Connection, admission_ids: np.ndarray, states: States) -> None:
    """One UPDATE for the whole batch: each parameter's newest value and time, and the newest of them."""
    params: dict[str, object] = {"ids": admission_ids.tolist(),
                                 "last": [None if t == NEVER else from_micros(t) for t in states.newest().tolist()]}
    for k, name in enumerate(SET_PARAMETERS):
        times = states.times[:, k].tolist()
        values = states.values[:, k].tolist()
        params[f"{name}_at"] = [None if t == NEVER else from_micros(t) for t in times]
        params[name] = [_decode(name, v) if t != NEVER else None for v, t in zip(values, times, strict=True)]
    types = {"on_oxygen": "boolean", "consciousness": "text"}
    unnest = ", ".join(f"%({name})s::{types.get(name, 'real')}[], %({name}_at)s::timestamptz[]"
                       for name in SET_PARAMETERS)
    names = ", ".join(f"{name}, {name}_at" for name in SET_PARAMETERS)
    assignments = ", ".join(f"{name} = s.{name}, {name}_at = s.{name}_at" for name in SET_PARAMETERS)
    conn.execute(
        f"UPDATE observation_state o SET {assignments}, last_reading_at = s.last"
        f" FROM unnest(%(ids)s::bigint[], {unnest}, %(last)s::timestamptz[]) AS s(admission_id, {names}, last)"
        " WHERE o.admission_id = s.admission_id",
        params,
    )


def _decode(name: str, value: float) -> object:
    if name == "consciousness":
        return CONSCIOUSNESS_LETTERS[value]
    if name == "on_oxygen":
        return value == 1.0
    return value


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
