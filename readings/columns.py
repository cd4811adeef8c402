"""Accepted readings as NumPy columns: what ingest scores and COPYs without a Python object per reading.

Ingest decodes each MQTT message into the contract's ``Reading`` objects and keeps them grouped by
message (one device, one admission, one receive time); a batch of such groups becomes one
``ReadingColumns`` with a handful of list comprehensions, and from there on every step (observation
sets, scoring, COPY formatting) works on whole columns. Hand-entered observations and imported history
arrive as ``AcceptedReading`` tuples and take the same path through ``from_accepted``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Annotated, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from alerting.npews import CARER_ANSWERS, OXYGEN_DEVICES, RESP_DISTRESS_CODES
from readings.observation_sets import CONSCIOUSNESS_CODES, SET_PARAMETERS, to_micros
from vward.contract import Reading
from vward.vocabulary import VITAL_FIELDS

# The measured values, as float64 columns of ``ReadingColumns.values``: on_oxygen is 1.0 (oxygen) or
# 0.0 (air), consciousness its ACVPU code, NaN wherever the reading does not carry the value.
VALUE_COLUMNS = VITAL_FIELDS
_NUMERIC = attrgetter(*VITAL_FIELDS[:-1])  # all but consciousness, whose letter becomes a code
_SET_COLUMNS = [VALUE_COLUMNS.index(name) for name in SET_PARAMETERS]
# What a child's reading may add (``ReadingColumns.extras``, float64, NaN = not given): the hand-entered
# NPEWS parameters (codes of alerting.npews's vocabulary, capillary refill in s, oxygen in L/min), the
# carer's answer (its index in CARER_ANSWERS) and the hand-entered concerns (1.0 yes, 0.0 no).
EXTRA_COLUMNS: tuple[str, ...] = (
    "resp_distress",
    "crt",
    "o2_device",
    "o2_lpm",
    "carer_answer",
    "clinical_concern",
    "sepsis_suspicion",
    "abnormal_pupils",
)
_EXTRA = attrgetter(*EXTRA_COLUMNS)
# Everything a reading says, as ``ReadingColumns.fields()`` lays it out and as the readings table stores it:
# two readings of one device at one time are the same reading only if every one of these agrees.
READING_FIELDS: tuple[str, ...] = (*VALUE_COLUMNS, *EXTRA_COLUMNS)


class ChildExtras(BaseModel):
    """What a visiting nurse (or the carer, answering the chart's question) adds to a child's reading.

    Bounds: capillary refill up to 30 s and oxygen up to 60 L/min are what a child can be given or show;
    beyond is a typing error, refused like an impossible vital sign."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resp_distress: Literal["none", "mild", "moderate", "severe"] | None = None
    crt: Annotated[float, Field(ge=0, le=30)] | None = None
    o2_device: Literal["air", "oxygen", "high_flow", "bipap", "cpap"] | None = None
    o2_lpm: Annotated[float, Field(gt=0, le=60)] | None = None
    carer_answer: Literal["W", "S", "B", "A", "U"] | None = None
    clinical_concern: bool | None = None
    sepsis_suspicion: bool | None = None
    abnormal_pupils: bool | None = None


class AcceptedReading(NamedTuple):
    """One validated reading from a device (or typed in by a clinician) on an active admission."""

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
    resp_distress: str | None = None  # a key of alerting.npews.RESP_DISTRESS_CODES
    crt: float | None = None
    o2_device: str | None = None  # a key of alerting.npews.OXYGEN_DEVICES
    o2_lpm: float | None = None
    carer_answer: str | None = None  # a key of alerting.npews.CARER_ANSWERS
    clinical_concern: bool | None = None  # a clinician's "just not right"
    sepsis_suspicion: bool | None = None
    abnormal_pupils: bool | None = None


VitalSigns = Reading | AcceptedReading  # what a reading carries, either way it arrived


class ReadingGroup(NamedTuple):
    """Readings that share a device, an admission and a receive time: one decoded MQTT message."""

    device_id: str
    admission_id: int
    received_at: datetime
    readings: Sequence[VitalSigns]


@dataclass(frozen=True)
class ReadingColumns:
    """n readings, column-wise; times are integer microseconds since the Unix epoch (exact)."""

    device_ids: list[str]  # the distinct devices, indexed by ``device``
    device: np.ndarray  # (n,) int64
    admission_id: np.ndarray  # (n,) int64
    measured_at: np.ndarray  # (n,) int64
    received_at: np.ndarray  # (n,) int64
    values: np.ndarray  # (n, 8) float64 in VALUE_COLUMNS order
    extras: np.ndarray  # (n, 8) float64 in EXTRA_COLUMNS order

    def __len__(self) -> int:
        return self.measured_at.shape[0]

    @classmethod
    def from_groups(cls, groups: Iterable[ReadingGroup]) -> ReadingColumns:
        groups = [g for g in groups if g.readings]
        readings = [r for g in groups for r in g.readings]
        counts = [len(g.readings) for g in groups]
        device_index: dict[str, int] = {}
        device = [device_index.setdefault(g.device_id, len(device_index)) for g in groups]
        n = len(readings)
        values = np.empty((n, len(VALUE_COLUMNS)))
        if n:
            values[:, :-1] = np.array(list(map(_NUMERIC, readings)), dtype=np.float64)  # None is NaN, True 1.0
            codes = CONSCIOUSNESS_CODES
            levels = [None if r.consciousness is None else codes[r.consciousness] for r in readings]
            values[:, -1] = np.array(levels, dtype=np.float64)
        return cls(
            device_ids=list(device_index),
            device=np.repeat(np.array(device, dtype=np.int64), counts),
            admission_id=np.repeat(np.array([g.admission_id for g in groups], dtype=np.int64), counts),
            measured_at=np.array([to_micros(r.measured_at) for r in readings], dtype=np.int64),
            received_at=np.repeat(np.array([to_micros(g.received_at) for g in groups], dtype=np.int64), counts),
            values=values,
            extras=_extras(readings),
        )

    @classmethod
    def from_accepted(cls, readings: Iterable[AcceptedReading]) -> ReadingColumns:
        return cls.from_groups(ReadingGroup(r.device_id, r.admission_id, r.received_at, (r,)) for r in readings)

    def slice(self, start: int, stop: int) -> ReadingColumns:
        """Rows start..stop (views; the device list is shared)."""
        return ReadingColumns(
            self.device_ids,
            self.device[start:stop],
            self.admission_id[start:stop],
            self.measured_at[start:stop],
            self.received_at[start:stop],
            self.values[start:stop],
            self.extras[start:stop],
        )

    def set_values(self) -> np.ndarray:
        """The NEWS2 inputs, (n, 7) in ``observation_sets.SET_PARAMETERS`` order."""
        return self.values[:, _SET_COLUMNS]

    def column(self, name: str) -> np.ndarray:
        return self.values[:, VALUE_COLUMNS.index(name)]

    def fields(self) -> np.ndarray:
        """Every value a reading carries, (n, 16) in ``READING_FIELDS`` order (NaN = not carried)."""
        return np.hstack([self.values, self.extras])


def _extras(readings: Sequence[VitalSigns]) -> np.ndarray:
    """The extras of every reading: a device's reading can carry only the carer's answer, so a batch from
    devices alone costs one lookup per reading."""
    extras = np.full((len(readings), len(EXTRA_COLUMNS)), np.nan)
    carer = EXTRA_COLUMNS.index("carer_answer")
    for i, r in enumerate(readings):
        if isinstance(r, AcceptedReading):
            extras[i] = [field_code(name, value) for name, value in zip(EXTRA_COLUMNS, _EXTRA(r), strict=True)]
        elif r.carer_answer is not None:
            extras[i, carer] = _CODES["carer_answer"][r.carer_answer]
    return extras


_CODES: dict[str, Mapping[str, float]] = {
    "consciousness": CONSCIOUSNESS_CODES,
    "resp_distress": RESP_DISTRESS_CODES,
    "o2_device": OXYGEN_DEVICES,
    "carer_answer": {answer: k for k, answer in enumerate(CARER_ANSWERS)},
}
_BOOLEANS = frozenset({"on_oxygen", "clinical_concern", "sepsis_suspicion", "abnormal_pupils"})


def field_code(name: str, value: object) -> float:
    """One field of ``READING_FIELDS`` (as a reading or a stored row holds it) as its float64 column code:
    a word of a vocabulary becomes its code, a boolean 1.0 or 0.0, None NaN."""
    if value is None:
        return np.nan
    if name in _CODES:
        return float(_CODES[name][str(value)])
    return float(value)  # type: ignore[arg-type]


def field_value(name: str, code: float) -> object:
    """The inverse of ``field_code`` for showing a reading (None where NaN): the word, boolean or number."""
    if code != code:
        return None
    if name in _CODES:
        return next(word for word, k in _CODES[name].items() if k == int(code))
    if name in _BOOLEANS:
        return code == 1.0
    return code
