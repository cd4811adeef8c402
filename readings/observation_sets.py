"""Observation sets: the latest value of each NEWS2 parameter within the freshness window. Pure, NumPy.

A patient at home is measured by several devices at different moments, so no single reading is an
observation set. Each stored reading is scored against the set as it stood at its own measurement time:
its own values plus each parameter's latest earlier value measured no more than ``window`` before it.
A parameter older than that, or known only from a *later* measurement (a late, buffered reading arriving
after newer ones), is missing, and the set is scored as incomplete rather than guessed.

A batch is worked column-wise, because ingest builds thousands of sets per second: readings are sorted
by (admission, time), each parameter's last present value is carried forward with a running maximum of
row indices (restarting at every admission), and the admission's stored state (its latest value of each
parameter from earlier batches) is used instead wherever it is newer yet not after the reading. Times are
integer microseconds since the Unix epoch, so comparisons are exact; ``NEVER`` means never measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from vward.vocabulary import ACVPU_CODES

# The seven NEWS2 inputs as stored in observation_state (on_oxygen and consciousness included).
SET_PARAMETERS: tuple[str, ...] = ("rr", "spo2", "on_oxygen", "sbp", "hr", "consciousness", "temp")
CONSCIOUSNESS_CODES: dict[str, float] = {letter: float(code) for letter, code in ACVPU_CODES.items()}
NEVER = np.iinfo(np.int64).min  # the time of a parameter never measured
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(at: datetime) -> int:
    """Microseconds since the Unix epoch; exact, unlike ``timestamp()``."""
    return (at - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True)
class States:
    """Each admission's latest value (coded, NaN if never) and its time (``NEVER``) per parameter: (m, 7)."""

    values: np.ndarray  # float64
    times: np.ndarray  # int64 microseconds

    @classmethod
    def empty(cls, m: int) -> States:
        return cls(np.full((m, len(SET_PARAMETERS)), np.nan), np.full((m, len(SET_PARAMETERS)), NEVER))

    def newest(self) -> np.ndarray:
        """Time of each admission's newest known parameter (``NEVER`` if none)."""
        return self.times.max(axis=1)


@dataclass(frozen=True)
class BatchSets:
    """The set of every reading (rows in the input order) and the admissions' advanced states."""

    values: np.ndarray  # (n, 7) float64, NaN = missing or stale
    states: States


def build_sets(
    admission: np.ndarray, at: np.ndarray, values: np.ndarray, states: States, window: timedelta
) -> BatchSets:
    """Sets for n readings of admissions ``admission`` (row indices into ``states``) measured ``at``.

    ``values`` is (n, 7) in ``SET_PARAMETERS`` order, NaN where the reading does not carry a parameter.
    Readings measured at the same time see each other in input order, later over earlier.
    """
    n = len(at)
    order = np.lexsort((at, admission))  # stable: equal times keep their input order
    adm, t, v = admission[order], at[order], values[order]
    start = np.ones(n, dtype=bool)
    start[1:] = adm[1:] != adm[:-1]
    present = ~np.isnan(v)
    rows = np.arange(n)[:, None]
    # Index of the last row at or before each row that carries the parameter, within the admission;
    # an admission's first row stands in when none does (``present`` then says so).
    last = np.maximum.accumulate(np.where(present | start[:, None], rows, -1), axis=0)
    found = np.take_along_axis(present, last, axis=0)
    batch_value = np.take_along_axis(v, last, axis=0)
    batch_time = np.where(found, t[last], NEVER)

    stored_time, stored_value = states.times[adm], states.values[adm]
    use_stored = (stored_time <= t[:, None]) & (stored_time > batch_time)
    when = np.where(use_stored, stored_time, batch_time)
    value = np.where(use_stored, stored_value, batch_value)
    fresh = when >= (t - _micros(window))[:, None]
    sets = np.empty_like(values)
    sets[order] = np.where(fresh, value, np.nan)

    # The newest value per parameter wins; on a tie the batch's, as it was stored last.
    end = np.ones(n, dtype=bool)
    end[:-1] = start[1:]
    touched = adm[end]
    newer = batch_time[end] >= states.times[touched]
    times, kept = states.times.copy(), states.values.copy()
    times[touched] = np.where(newer, batch_time[end], states.times[touched])
    kept[touched] = np.where(newer, batch_value[end], states.values[touched])
    return BatchSets(sets, States(kept, times))


def current_sets(states: States, window: timedelta) -> tuple[np.ndarray, np.ndarray]:
    """Each admission's set as at its newest measurement, and that time: what the alert rules judge."""
    newest = states.newest()
    fresh = states.times >= (newest - _micros(window))[:, None]
    return np.where(fresh, states.values, np.nan), newest


def scorer_columns(sets: np.ndarray, scale: np.ndarray) -> dict[str, np.ndarray]:
    """Keyword arguments for ``alerting.news2.score`` from (n, 7) sets and each row's SpO2 scale."""
    columns = {name: np.ascontiguousarray(sets[:, k]) for k, name in enumerate(SET_PARAMETERS)}
    columns["pulse"] = columns.pop("hr")
    columns["scale"] = scale.astype(np.int8)
    return columns


def _micros(window: timedelta) -> int:
    return window // _MICROSECOND
