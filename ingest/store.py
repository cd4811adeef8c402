"""Stores a batch of accepted readings, each scored with NEWS2, and raises alerts, in the caller's transaction.

This is the one path every reading takes, from a device or typed in by a nurse: lock the admissions'
observation state, build each reading's observation set, score the batch in one call of the compiled
scorer, COPY the rows, advance the state, and apply the alert rules to each admission's newest set. The
caller commits; nothing here is visible until then, so no reading is left unscored and no alert exists
for a reading that was not stored. Redeliveries (same device and measurement time) are skipped. NEWS2 is
for adults: a child's readings (``vward_news2_applies``, migration 0006) are stored with NULL scores and
never reach the alert rules.

Everything here works on whole columns (``ingest.columns``): observation sets (``observation_sets``),
one scorer call, and the COPY stream formatted by NumPy (``copy_binary``), so the only per-reading
Python left is reading the decoded readings into columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from psycopg import errors

from alerting import news2
from alerting.raising import LatestSet, close_missed_readings, record_scores
from ingest import copy_binary
from ingest.columns import VALUE_COLUMNS, AcceptedReading, ReadingColumns
from ingest.observation_sets import (
    CONSCIOUSNESS_CODES,
    NEVER,
    SET_PARAMETERS,
    States,
    build_sets,
    current_sets,
    from_micros,
    scorer_columns,
)
from vward import db
from vward.config import Settings

_COLUMNS = (
    "device_id",
    "admission_id",
    "measured_at",
    "received_at",
    *VALUE_COLUMNS,
    "news2_total",
    "news2_complete",
    "news2_risk",
    "score_rr",
    "score_spo2",
    "score_air_oxygen",
    "score_sbp",
    "score_pulse",
    "score_consciousness",
    "score_temp",
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_CONSCIOUSNESS_VOCABULARY = (*CONSCIOUSNESS_CODES, None)  # codes 0..4 as ACVPU, then NULL
_RISK_VOCABULARY = (*news2.RISK_LEVELS, None)


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: int
    duplicates: int


def store_readings(
    conn: psycopg.Connection,
    readings: Sequence[AcceptedReading],
    *,
    settings: Settings,
    now: datetime,
    raise_alerts: bool = True,
) -> StoreResult:
    """``store_columns`` for callers holding reading tuples (hand-entered observations, imported history)."""
    return store_columns(
        conn, ReadingColumns.from_accepted(readings), settings=settings, now=now, raise_alerts=raise_alerts
    )


def store_columns(
    conn: psycopg.Connection, batch: ReadingColumns, *, settings: Settings, now: datetime, raise_alerts: bool = True
) -> StoreResult:
    """Scores and stores ``batch`` and applies the alert rules, without committing.

    ``raise_alerts=False`` is for importing history (readings are scored exactly the same, but nobody is
    paged about the past); every live path raises alerts.
    """
    if not len(batch):
        return StoreResult(0, 0)
    admission_ids, admission = np.unique(batch.admission_id, return_inverse=True)
    states, scales, adult = _lock_states(conn, admission_ids.tolist())
    window = settings.news2_freshness_window
    sets = build_sets(admission, batch.measured_at, batch.set_values(), states, window)
    scores = news2.score(**scorer_columns(sets.values, scales[admission]))
    stored = _copy_rows(conn, _copy_payload(batch, scores, adult[admission]), len(batch))

    _save_states(conn, admission_ids, sets.states)
    if not raise_alerts:
        return StoreResult(stored, len(batch) - stored)
    current, newest = current_sets(sets.states, window)
    known = (newest != NEVER) & adult  # no set yet if no reading carried a NEWS2 parameter
    latest = news2.score(**scorer_columns(current[known], scales[known]))
    observed = [from_micros(t) for t in newest[known].tolist()]
    sub_scores = latest.sub_scores.tolist()
    close_missed_readings(conn, admission_ids[~known].tolist(), now=now)  # unscored: the same lifecycle
    record_scores(
        conn,
        [
            LatestSet(
                admission_id=admission_id,
                observed_at=observed_at,
                total=total,
                risk=news2.RISK_LEVELS[risk],
                complete=complete,
                sub_scores=tuple(None if s == news2.MISSING else s for s in sub),
            )
            for admission_id, observed_at, total, risk, complete, sub in zip(
                admission_ids[known].tolist(),
                observed,
                latest.total.tolist(),
                latest.risk.tolist(),
                latest.complete.tolist(),
                sub_scores,
                strict=True,
            )
        ],
        settings=settings,
        now=now,
    )
    return StoreResult(stored, len(batch) - stored)


def _copy_payload(batch: ReadingColumns, scores: news2.News2Scores, scored: np.ndarray) -> bytes:
    """The readings with their scores (NULL where ``scored`` is False) as one binary COPY stream."""
    sub = scores.sub_scores
    risk = np.where(scored, scores.risk, len(news2.RISK_LEVELS)).astype(np.int64)
    return copy_binary.copy_payload(
        [
            copy_binary.text(batch.device, batch.device_ids),
            copy_binary.int8(batch.admission_id),
            copy_binary.timestamptz(batch.measured_at),
            copy_binary.timestamptz(batch.received_at),
            *(_value_column(name, batch.column(name)) for name in VALUE_COLUMNS),
            copy_binary.int2(scores.total, scored),
            copy_binary.boolean(scores.complete, scored),
            copy_binary.text(risk, _RISK_VOCABULARY),
            *(copy_binary.int2(sub[:, k], scored & (sub[:, k] != news2.MISSING)) for k in range(len(news2.PARAMETERS))),
        ]
    )


def _state_columns() -> str:
    """Each parameter's value as the scorer's float, then each one's time as microseconds (``NEVER`` if none).

    A real is read through its text form, which is the shortest decimal that gives back the same float4
    (38.05 stored comes back as 38.05, not 38.0499992...), so a value carried forward from an earlier batch
    bands exactly as it did when it arrived.
    """

    def value(name: str) -> str:
        if name == "on_oxygen":
            return "CASE WHEN o.on_oxygen THEN 1.0::float8 WHEN NOT o.on_oxygen THEN 0.0::float8 END"
        if name == "consciousness":
            letters = ", ".join(f"'{letter}'" for letter in CONSCIOUSNESS_CODES)
            return f"array_position(ARRAY[{letters}], o.consciousness) - 1"
        return f"o.{name}::text::float8"

    times = [f"coalesce((extract(epoch FROM o.{name}_at) * 1000000)::bigint, {NEVER})" for name in SET_PARAMETERS]
    return ", ".join([value(name) for name in SET_PARAMETERS] + times)


_LOCK_STATES = (
    f"SELECT a.spo2_scale, vward_news2_applies(a.admitted_at, p.date_of_birth), {_state_columns()}"
    " FROM observation_state o JOIN admissions a ON a.id = o.admission_id JOIN patients p ON p.id = a.patient_id"
    " WHERE o.admission_id = ANY(%s::bigint[]) ORDER BY o.admission_id FOR UPDATE OF o"
)
_SAVE_STATES = (
    "UPDATE observation_state o SET "
    + ", ".join(f"{name} = s.{name}, {name}_at = s.{name}_at" for name in SET_PARAMETERS)
    + ", last_reading_at = s.last_reading_at FROM observation_state_staging s WHERE o.admission_id = s.admission_id"
)


def _lock_states(conn: psycopg.Connection, admission_ids: list[int]) -> tuple[States, np.ndarray, np.ndarray]:
    """Locks (creating if needed) the admissions' observation state rows, in id order to avoid deadlocks;
    returns them with each admission's SpO2 scale and whether NEWS2 applies (an adult when admitted)."""
    ids = db.bigint_array(admission_ids)
    conn.execute(
        "INSERT INTO observation_state (admission_id) SELECT unnest(%s::bigint[]) ON CONFLICT DO NOTHING", (ids,)
    )
    rows = conn.execute(_LOCK_STATES, (ids,)).fetchall()
    # Microsecond times (< 2**53) and NEVER (-2**63) are exact in float64, so one conversion does for all.
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 2 + 2 * len(SET_PARAMETERS))
    values, times = table[:, 2 : 2 + len(SET_PARAMETERS)], table[:, 2 + len(SET_PARAMETERS) :].astype(np.int64)
    states = States(np.where(times == NEVER, np.nan, values), times)
    return states, table[:, 0].astype(np.int8), table[:, 1] == 1.0


def _save_states(conn: psycopg.Connection, admission_ids: np.ndarray, states: States) -> None:
    """Each parameter's newest value and time, and the newest of them: COPY into a staging table, one UPDATE."""
    known = states.times != NEVER
    columns = [copy_binary.int8(admission_ids)]
    for k, name in enumerate(SET_PARAMETERS):
        value = np.where(known[:, k], states.values[:, k], np.nan)
        columns.append(_value_column(name, value))
        columns.append(copy_binary.timestamptz(states.times[:, k], known[:, k]))
    newest = states.newest()
    columns.append(copy_binary.timestamptz(newest, newest != NEVER))
    names = ", ".join(f"{name}, {name}_at" for name in SET_PARAMETERS)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS observation_state_staging (LIKE observation_state) ON COMMIT DELETE ROWS"
        )
        with cur.copy(
            f"COPY observation_state_staging (admission_id, {names}, last_reading_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(copy_binary.copy_payload(columns))
        cur.execute(_SAVE_STATES)


def _value_column(name: str, value: np.ndarray) -> copy_binary.Column:
    """A coded parameter (NaN = none) in its stored type: real, boolean, or the ACVPU letter."""
    if name == "on_oxygen":
        return copy_binary.boolean(value == 1.0, ~np.isnan(value))
    if name == "consciousness":
        return copy_binary.text(
            np.where(np.isnan(value), len(CONSCIOUSNESS_CODES), value).astype(np.int64), _CONSCIOUSNESS_VOCABULARY
        )
    return copy_binary.float4(value)


def _copy_rows(conn: psycopg.Connection, payload: bytes, rows: int) -> int:
    """COPYs straight into readings; if a redelivery collides, falls back to a staging table and skips it."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            _copy_into(cur, "readings", payload)
        return rows
    except errors.UniqueViolation:
        pass
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS readings_staging (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cur.execute("TRUNCATE readings_staging")
        _copy_into(cur, "readings_staging", payload)
        cur.execute(
            f"INSERT INTO readings ({_COLUMN_LIST}) SELECT DISTINCT ON (device_id, measured_at)"
            f" {_COLUMN_LIST} FROM readings_staging ON CONFLICT DO NOTHING"
        )
        return cur.rowcount


def _copy_into(cur: psycopg.Cursor, table: str, payload: bytes) -> None:
    with cur.copy(f"COPY {table} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)
