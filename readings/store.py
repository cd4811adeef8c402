"""Stores a batch of accepted readings, each scored with NEWS2, and raises alerts, in the caller's transaction.

This is the one path every reading takes, from a device or typed in by a nurse: lock the admissions'
observation state, build each reading's observation set, score the batch in one call of the compiled
scorer, COPY the rows, advance the state, and apply the alert rules to each admission's newest set. The
caller commits; nothing here is visible until then, so no reading is left unscored and no alert exists
for a reading that was not stored. A reading that repeats a stored (device, measurement time) is a
redelivery, skipped and counted, if its values are the same; with other values it is a ``conflict``,
quarantined (in the same transaction) with both the stored and the incoming values, and never scored:
neither copy is silently dropped, and the stored one stays what the patient's scores were built on. NEWS2 is
for adults: a child's readings (``vward_news2_applies``, migration 0006) are stored with NULL NEWS2 scores
and scored with the national PEWS instead (``npews_sets``, ``alerting.npews_raising``).

Everything here works on whole columns (``readings.columns``): observation sets (``observation_sets``),
one scorer call, and the COPY stream formatted by NumPy (``copy_binary``), so the only per-reading
Python left is reading the decoded readings into columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from psycopg import errors

from alerting import news2
from alerting.npews_raising import record_child_sets
from alerting.raising import LatestSet, close_missed_readings, record_scores
from readings import copy_binary, npews_sets
from readings.columns import READING_FIELDS, VALUE_COLUMNS, AcceptedReading, ReadingColumns, field_code, field_value
from readings.observation_sets import (
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
from vward.contract import readings_topic

CONFLICT = "conflict"  # the quarantine reason of a reading that contradicts a stored one

_COLUMNS = (
    "device_id",
    "admission_id",
    "measured_at",
    "received_at",
    *VALUE_COLUMNS,
    "news2_total",
    "news2_complete",
    "news2_risk",
    *news2.SCORE_COLUMNS,
    *npews_sets.COPY_COLUMNS,
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_CONSCIOUSNESS_VOCABULARY = (*CONSCIOUSNESS_CODES, None)  # codes 0..4 as ACVPU, then NULL
_RISK_VOCABULARY = (*news2.RISK_LEVELS, None)


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: int
    duplicates: int  # identical redeliveries, skipped
    conflicts: int = 0  # same device and time as a stored reading, other values: quarantined


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
    children = _child_sets(conn, batch, admission, admission_ids, adult, states, settings)
    if (collision := _copy_rows(conn, _copy_payload(batch, scores, adult[admission], children))) is not None:
        # Some readings repeat a stored (device, time), or each other: set them aside, score the rest afresh.
        fresh, conflicts = _set_aside_repeats(conn, batch)
        if fresh.all():
            raise collision  # not a repeated reading after all: the caller isolates the message
        rest = store_columns(conn, _take(batch, fresh), settings=settings, now=now, raise_alerts=raise_alerts)
        repeats = len(batch) - int(fresh.sum())
        return StoreResult(rest.stored, rest.duplicates + repeats - conflicts, rest.conflicts + conflicts)
    stored = len(batch)

    _save_states(conn, admission_ids, sets.states)
    if children is not None:
        npews_sets.save_states(conn, admission_ids[~adult], children.extras)
    if not raise_alerts:
        return StoreResult(stored, 0)
    if children is not None:
        record_child_sets(
            conn, npews_sets.current_child_sets(batch, admission_ids[~adult], children), settings=settings, now=now
        )
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
    return StoreResult(stored, 0)


def _child_sets(
    conn: psycopg.Connection,
    batch: ReadingColumns,
    admission: np.ndarray,
    admission_ids: np.ndarray,
    adult: np.ndarray,
    states: States,
    settings: Settings,
) -> npews_sets.ChildSets | None:
    """NPEWS for the batch's children, None when it has none (a batch of adults pays nothing more)."""
    if adult.all():
        return None
    child_index = np.where(adult, -1, np.cumsum(~adult) - 1)
    children = npews_sets.load_states(conn, admission_ids[~adult])
    window = settings.news2_freshness_window
    return npews_sets.build_child_sets(batch, admission, states, children, child_index, window)


def _copy_payload(
    batch: ReadingColumns, scores: news2.News2Scores, scored: np.ndarray, children: npews_sets.ChildSets | None
) -> bytes:
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
            *npews_sets.copy_columns(batch, children),
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


def _copy_rows(conn: psycopg.Connection, payload: bytes) -> errors.UniqueViolation | None:
    """COPYs straight into readings; if any row repeats a stored or another row's key, writes nothing and
    returns the database's complaint."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            _copy_into(cur, "readings", payload)
    except errors.UniqueViolation as exc:
        return exc
    return None


_STORED_VALUES = (
    "SELECT k.i, "
    + ", ".join(f"r.{name}" for name in READING_FIELDS)
    + " FROM unnest(%s::text[], %s::timestamptz[], %s::int[]) AS k(device_id, measured_at, i)"
    " JOIN readings r ON r.device_id = k.device_id AND r.measured_at = k.measured_at"
)


def _set_aside_repeats(conn: psycopg.Connection, batch: ReadingColumns) -> tuple[np.ndarray, int]:
    """Which readings are new (a mask), after quarantining as conflicts those that contradict a stored
    reading or an earlier one of the batch in any of ``READING_FIELDS`` (a child's hand-entered extras
    included); returns the mask and how many conflicts were quarantined."""
    keys = np.stack([batch.device, batch.measured_at], axis=1)
    _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    rows = conn.execute(
        _STORED_VALUES,
        (
            [batch.device_ids[d] for d in batch.device[first].tolist()],
            [from_micros(t) for t in batch.measured_at[first].tolist()],
            list(range(len(first))),
        ),
    ).fetchall()
    fields = batch.fields()
    stored = np.zeros(len(first), dtype=bool)
    reference = fields[first].copy()  # what each key's readings must equal: the stored or first one
    for row in rows:
        stored[row[0]] = True
        reference[row[0]] = [field_code(name, value) for name, value in zip(READING_FIELDS, row[1:], strict=True)]
    new = ~stored[group] & (np.arange(len(batch)) == first[group])
    same = _same_values(fields, reference[group])
    conflicting = np.flatnonzero(~new & ~same)
    if len(conflicting):
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO quarantine (received_at, topic, device_id, reason, detail, payload)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    _conflict_row(batch, int(i), fields[i], reference[group[i]], bool(stored[group[i]]))
                    for i in conflicting
                ],
            )
    return new, len(conflicting)


def _same_values(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise equality as stored (``real`` columns: float4), a missing value equal only to a missing one."""
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    return ((a32 == b32) | (np.isnan(a32) & np.isnan(b32))).all(axis=1)


def _as_json(fields: np.ndarray) -> dict[str, object]:
    """The fields a reading carries, by name, in the words and numbers it was sent with."""
    decoded = {name: field_value(name, code) for name, code in zip(READING_FIELDS, fields.tolist(), strict=True)}
    return {name: value for name, value in decoded.items() if value is not None}


def _conflict_row(
    batch: ReadingColumns, i: int, fields: np.ndarray, reference: np.ndarray, stored: bool
) -> tuple[object, ...]:
    """A quarantine row showing both versions: the one stored (or stored first in this batch) and this one."""
    device = batch.device_ids[int(batch.device[i])]
    at = from_micros(int(batch.measured_at[i])).isoformat()
    kept, incoming = _as_json(reference), _as_json(fields)
    body = {"measured_at": at, "stored": kept, "incoming": incoming}
    where = "a stored reading" if stored else "an earlier reading of the same batch"
    detail = f"measured_at {at} repeats {where} with other values: stored {kept}, incoming {incoming}"
    return (
        from_micros(int(batch.received_at[i])),
        readings_topic(device),
        device,
        CONFLICT,
        detail[:500],
        json.dumps(body, separators=(",", ":")).encode(),
    )


def _take(batch: ReadingColumns, mask: np.ndarray) -> ReadingColumns:
    return ReadingColumns(
        batch.device_ids,
        batch.device[mask],
        batch.admission_id[mask],
        batch.measured_at[mask],
        batch.received_at[mask],
        batch.values[mask],
        batch.extras[mask],
    )


def _copy_into(cur: psycopg.Cursor, table: str, payload: bytes) -> None:
    with cur.copy(f"COPY {table} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)
