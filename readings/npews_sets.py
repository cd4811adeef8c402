"""A child's observation sets, scored with the national PEWS: the reading path's NPEWS step.

NPEWS applies to admissions that NEWS2 does not (``vward_news2_applies``: under 16 when admitted). A child's
set is built exactly like an adult's (``observation_sets.build_sets``: latest value of each parameter within
the freshness window), over the devices' parameters plus the four a visiting nurse enters by hand
(respiratory distress, capillary refill, oxygen delivery and its L/min), which observation_state keeps with
their times (migration 0013). Each reading is scored on the chart of the child's age band on the UTC day it
was measured (``alerting.score_choice``), so a birthday moves the band at midnight.

The pure part (``build_child_sets``, ``current_child_sets``, ``copy_columns``) works on columns;
``load_states``/``save_states`` are the SQL edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import psycopg

from alerting import npews
from alerting.npews_raising import ChildSet
from alerting.score_choice import anniversary
from readings import copy_binary
from readings.columns import EXTRA_COLUMNS, ReadingColumns
from readings.observation_sets import (
    CONSCIOUSNESS_CODES,
    NEVER,
    SET_PARAMETERS,
    States,
    build_sets,
    current_sets,
    from_micros,
)
from vward import db

# Hand-entered parameters kept in observation_state, in EXTRA_COLUMNS order (its first four).
STATE_PARAMETERS: tuple[str, ...] = EXTRA_COLUMNS[:4]
_ALL = (*SET_PARAMETERS, *STATE_PARAMETERS)
_COL = {name: k for k, name in enumerate(_ALL)}
# The readings columns this step fills (migration 0013), after NEWS2's: NULL where they do not apply.
COPY_COLUMNS: tuple[str, ...] = (
    *EXTRA_COLUMNS,
    "npews_age_band",
    "npews_total",
    "npews_complete",
    "npews_level",
    *(f"npews_{name}" for name in npews.PARAMETERS),
)
_LEVEL_VOCABULARY = (*npews.LEVELS, None)
_EXTRA_VOCABULARIES: dict[str, tuple[str | None, ...]] = {
    "resp_distress": (*npews.RESP_DISTRESS_CODES, None),
    "o2_device": (*npews.OXYGEN_DEVICES, None),
    "carer_answer": (*npews.CARER_ANSWERS, None),
}
_CONCERNS = ("clinical_concern", "sepsis_suspicion", "abnormal_pupils")
_BAND_YEARS = (1, 5, 13)  # birthdays that start the 1-4, 5-12 and 13+ charts
_DAY_MICROS = 86_400_000_000
_EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True)
class ChildStates:
    """Children's admissions (rows in admission id order), with their band birthdays as UTC day numbers and
    their stored hand-entered parameters."""

    band_starts: np.ndarray  # (m, 3) int64 days since 1970-01-01
    extras: States  # (m, 4) in STATE_PARAMETERS order


@dataclass(frozen=True)
class ChildSets:
    """NPEWS scores of a batch's child rows and of each child admission's current set."""

    rows: np.ndarray  # indices of the batch rows that are children's
    age_band: np.ndarray  # (len(rows),) int8
    scores: npews.NpewsScores  # per row in ``rows``
    extras: States  # the children's advanced hand-entered states, to save
    newest: np.ndarray  # (m,) int64 micros: each admission's newest measurement (NEVER if none)
    current: npews.NpewsScores  # (m,) the current set of each child admission
    current_band: np.ndarray  # (m,) int8
    current_avpu: np.ndarray  # (m,) float64 ACVPU code of the current set, NaN if none


def band_starts(date_of_birth: date) -> list[int]:
    """The UTC day numbers on which a child born on ``date_of_birth`` moves to the next age band."""
    return [(anniversary(date_of_birth, years) - _EPOCH_DAY).days for years in _BAND_YEARS]


def build_child_sets(
    batch: ReadingColumns,
    admission: np.ndarray,
    news2_states: States,
    children: ChildStates,
    child_index: np.ndarray,
    window: timedelta,
) -> ChildSets:
    """Scores every child row of ``batch``; ``admission`` indexes each row's admission in ``news2_states``,
    whose rows ``child_index`` maps to rows of ``children`` (-1 for adults)."""
    rows = np.flatnonzero(child_index[admission] >= 0)
    child = child_index[admission[rows]]
    kids = np.flatnonzero(child_index >= 0)
    states = States(
        np.hstack([news2_states.values[kids], children.extras.values]),
        np.hstack([news2_states.times[kids], children.extras.times]),
    )
    values = np.hstack([batch.set_values()[rows], batch.extras[rows, : len(STATE_PARAMETERS)]])
    sets = build_sets(child, batch.measured_at[rows], values, states, window)
    band = _bands(batch.measured_at[rows], children.band_starts[child])
    current, newest = current_sets(sets.states, window)
    current_band = _bands(np.where(newest == NEVER, 0, newest), children.band_starts)
    extras = States(sets.states.values[:, len(SET_PARAMETERS) :], sets.states.times[:, len(SET_PARAMETERS) :])
    return ChildSets(
        rows=rows,
        age_band=band,
        scores=score_sets(sets.values, band),
        extras=extras,
        newest=newest,
        current=score_sets(current, current_band),
        current_band=current_band,
        current_avpu=current[:, _COL["consciousness"]],
    )


def _bands(at_micros: np.ndarray, starts: np.ndarray) -> np.ndarray:
    day = at_micros // _DAY_MICROS  # floor: the UTC calendar day
    return (day[:, None] >= starts).sum(axis=1).astype(np.int8)


def score_sets(sets: np.ndarray, band: np.ndarray) -> npews.NpewsScores:
    """NPEWS of (k, 11) sets (NEWS2's seven parameters, then STATE_PARAMETERS) on charts ``band``.

    Oxygen: the hand-entered delivery when known, else the devices' on_oxygen (air, or oxygen at an unknown
    level, which scores its floor of 1 and leaves the set incomplete); a L/min on air is ignored.
    """

    def col(name: str) -> np.ndarray:
        return np.ascontiguousarray(sets[:, _COL[name]])

    device = np.where(np.isnan(col("o2_device")), col("on_oxygen"), col("o2_device"))
    nan = np.full(len(sets), np.nan)
    return npews.score(
        age_band=band,
        rr=col("rr"),
        resp_distress=col("resp_distress"),
        spo2=col("spo2"),
        oxygen=device,
        o2_percent=nan,
        o2_lpm=np.where(device == 0.0, np.nan, col("o2_lpm")),
        hr=col("hr"),
        sbp=col("sbp"),
        bp_not_obtained=nan,
        crt=col("crt"),
    )


def current_child_sets(batch: ReadingColumns, child_ids: np.ndarray, children: ChildSets) -> list[ChildSet]:
    """Each child's current set with the answers and concerns that came in this batch (a carer's answer:
    the latest; a concern: any reading that raised it). A carer's answer alone, before any measurement,
    still counts: its set is empty, the total 0 and incomplete."""
    extra = {name: batch.extras[children.rows, k] for k, name in enumerate(EXTRA_COLUMNS)}
    measured = batch.measured_at[children.rows]
    row_admission = batch.admission_id[children.rows]
    order = np.argsort(measured, kind="stable")
    letters = list(CONSCIOUSNESS_CODES)
    found: list[ChildSet] = []
    for k, admission_id in enumerate(child_ids.tolist()):
        mine = order[row_admission[order] == admission_id]
        answers = extra["carer_answer"][mine]
        answers = answers[~np.isnan(answers)]
        concerns = {name: bool((extra[name][mine] == 1.0).any()) for name in _CONCERNS}
        if children.newest[k] == NEVER and not (len(answers) or any(concerns.values())):
            continue  # nothing measured and nothing said: no set to judge
        observed = max(int(children.newest[k]), int(measured[mine].max(initial=NEVER)))
        avpu = children.current_avpu[k]
        sub = children.current.sub_scores[k].tolist()
        found.append(
            ChildSet(
                admission_id=admission_id,
                observed_at=from_micros(observed),
                total=int(children.current.total[k]),
                complete=bool(children.current.complete[k]),
                sub_scores=tuple(None if x == npews.MISSING else x for x in sub),
                avpu=None if np.isnan(avpu) else letters[int(avpu)],
                carer_answer=list(npews.CARER_ANSWERS)[int(answers[-1])] if len(answers) else None,
                **concerns,
            )
        )
    return found


def copy_columns(batch: ReadingColumns, children: ChildSets | None) -> list[copy_binary.Column]:
    """The COPY cells of ``COPY_COLUMNS`` for every row of ``batch``: what came with it, then NPEWS."""
    extras = [_extra_column(name, batch.extras[:, k]) for k, name in enumerate(EXTRA_COLUMNS)]
    return extras + _score_columns(len(batch), children)


def _extra_column(name: str, value: np.ndarray) -> copy_binary.Column:
    """A child's hand-entered value in its stored type: a word of its vocabulary, a real, or a boolean."""
    if name in _EXTRA_VOCABULARIES:
        vocabulary = _EXTRA_VOCABULARIES[name]
        return copy_binary.text(np.where(np.isnan(value), len(vocabulary) - 1, value).astype(np.int64), vocabulary)
    if name in ("crt", "o2_lpm"):
        return copy_binary.float4(value)
    return copy_binary.boolean(value == 1.0, ~np.isnan(value))


def _score_columns(n: int, children: ChildSets | None) -> list[copy_binary.Column]:
    """Age band, total, complete, level and sub-scores: the children's rows scored, every other row NULL."""
    scored = np.zeros(n, dtype=bool)
    band, total, level = np.zeros(n, np.int64), np.zeros(n, np.int64), np.full(n, len(npews.LEVELS), np.int64)
    complete = np.zeros(n, dtype=bool)
    sub = np.full((n, len(npews.PARAMETERS)), npews.MISSING, dtype=np.int64)
    if children is not None:
        rows = children.rows
        scored[rows] = True
        band[rows], total[rows] = children.age_band, children.scores.total
        level[rows], complete[rows] = children.scores.level, children.scores.complete
        sub[rows] = children.scores.sub_scores
    return [
        copy_binary.int2(band, scored),
        copy_binary.int2(total, scored),
        copy_binary.boolean(complete, scored),
        copy_binary.text(level, _LEVEL_VOCABULARY),
        *(copy_binary.int2(sub[:, k], sub[:, k] != npews.MISSING) for k in range(len(npews.PARAMETERS))),
    ]


def _state_select() -> str:
    values = [f"o.{name}::text::float8" for name in STATE_PARAMETERS]
    times = [f"coalesce((extract(epoch FROM o.{name}_at) * 1000000)::bigint, {NEVER})" for name in STATE_PARAMETERS]
    return ", ".join(values + times)


_LOAD = (
    f"SELECT p.date_of_birth, {_state_select()} FROM observation_state o"
    " JOIN admissions a ON a.id = o.admission_id JOIN patients p ON p.id = a.patient_id"
    " WHERE o.admission_id = ANY(%s::bigint[]) ORDER BY o.admission_id"
)


def load_states(conn: psycopg.Connection, admission_ids: np.ndarray) -> ChildStates:
    """The children's stored extras (their rows are already locked by the reading path) and birthdays, in
    admission id order (``admission_ids`` is sorted, as ``np.unique`` gives it)."""
    rows = conn.execute(_LOAD, (db.bigint_array(admission_ids.tolist()),)).fetchall()
    k = len(STATE_PARAMETERS)
    table = np.array([r[1:] for r in rows], dtype=np.float64).reshape(len(rows), 2 * k)
    times = table[:, k:].astype(np.int64)
    return ChildStates(
        band_starts=np.array([band_starts(r[0]) for r in rows], dtype=np.int64).reshape(len(rows), 3),
        extras=States(np.where(times == NEVER, np.nan, table[:, :k]), times),
    )


def save_states(conn: psycopg.Connection, admission_ids: np.ndarray, extras: States) -> None:
    """Each hand-entered parameter's newest value and time (COPY to a staging table, one UPDATE)."""
    known = extras.times != NEVER
    columns = [copy_binary.int8(admission_ids)]
    for k, name in enumerate(STATE_PARAMETERS):
        value = np.where(known[:, k], extras.values[:, k], np.nan)
        if name in ("resp_distress", "o2_device"):
            columns.append(copy_binary.int2(np.nan_to_num(value).astype(np.int64), ~np.isnan(value)))
        else:
            columns.append(copy_binary.float4(value))
        columns.append(copy_binary.timestamptz(extras.times[:, k], known[:, k]))
    names = ", ".join(f"{name}, {name}_at" for name in STATE_PARAMETERS)
    assignments = ", ".join(f"{name} = s.{name}, {name}_at = s.{name}_at" for name in STATE_PARAMETERS)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS child_state_staging (LIKE observation_state) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY child_state_staging (admission_id, {names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(copy_binary.copy_payload(columns))
        cur.execute(
            f"UPDATE observation_state o SET {assignments} FROM child_state_staging s"
            " WHERE o.admission_id = s.admission_id"
        )
