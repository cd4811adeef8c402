"""Observation sets: the latest value of each NEWS2 parameter within the freshness window. Pure.

A patient at home is measured by several devices at different moments, so no single reading is an
observation set. Each stored reading is scored against the set as it stood at its own measurement time:
its own values plus each parameter's latest earlier value measured no more than ``window`` before it.
A parameter older than that, or known only from a *later* measurement (a late, buffered reading arriving
after newer ones), is missing, and the set is scored as incomplete rather than guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

# The seven NEWS2 inputs as stored in observation_state (on_oxygen and consciousness included).
SET_PARAMETERS: tuple[str, ...] = ("rr", "spo2", "on_oxygen", "sbp", "hr", "consciousness", "temp")
_CONSCIOUSNESS_CODES = {"A": 0.0, "C": 1.0, "V": 2.0, "P": 3.0, "U": 4.0}


@dataclass
class ParameterState:
    """Latest value and measurement time of each parameter for one admission."""

    values: dict[str, object] = field(default_factory=dict)
    times: dict[str, datetime] = field(default_factory=dict)

    def merge(self, measured_at: datetime, values: dict[str, object]) -> None:
        """Takes the reading's values for parameters it carries, unless newer ones are already known."""
        for name in SET_PARAMETERS:
            value = values.get(name)
            if value is not None and (name not in self.times or self.times[name] <= measured_at):
                self.values[name] = value
                self.times[name] = measured_at

    def newest(self) -> datetime | None:
        return max(self.times.values(), default=None)


@dataclass
class SetColumns:
    """Observation sets as float64 columns for the NEWS2 scorer (NaN = missing)."""

    rr: list[float] = field(default_factory=list)
    spo2: list[float] = field(default_factory=list)
    on_oxygen: list[float] = field(default_factory=list)
    sbp: list[float] = field(default_factory=list)
    hr: list[float] = field(default_factory=list)
    consciousness: list[float] = field(default_factory=list)
    temp: list[float] = field(default_factory=list)
    scale: list[int] = field(default_factory=list)

    def append(self, state: ParameterState, at: datetime, window: timedelta, scale: int) -> None:
        """Adds the set as it stood at ``at``: each parameter if measured at or before it, within the window."""
        for name in SET_PARAMETERS:
            when = state.times.get(name)
            value = state.values.get(name) if when is not None and at - window <= when <= at else None
            getattr(self, name).append(_as_float(name, value))
        self.scale.append(scale)

    def arrays(self) -> dict[str, np.ndarray]:
        """Keyword arguments for ``alerting.news2.score``."""
        return {
            "rr": np.asarray(self.rr, dtype=np.float64),
            "spo2": np.asarray(self.spo2, dtype=np.float64),
            "scale": np.asarray(self.scale, dtype=np.int8),
            "on_oxygen": np.asarray(self.on_oxygen, dtype=np.float64),
            "sbp": np.asarray(self.sbp, dtype=np.float64),
            "pulse": np.asarray(self.hr, dtype=np.float64),
            "consciousness": np.asarray(self.consciousness, dtype=np.float64),
            "temp": np.asarray(self.temp, dtype=np.float64),
        }


def _as_float(name: str, value: object) -> float:
    if value is None:
        return math.nan
    if name == "consciousness":
        return _CONSCIOUSNESS_CODES[str(value)]
    if name == "on_oxygen":
        return 1.0 if value else 0.0
    return float(value)  # type: ignore[arg-type]
