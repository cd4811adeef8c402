"""Observation sets take each parameter's latest value within the window, never a later or stale one."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from readings.observation_sets import (
    CONSCIOUSNESS_CODES,
    NEVER,
    SET_PARAMETERS,
    States,
    build_sets,
    current_sets,
    from_micros,
    to_micros,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=60)
P = {name: k for k, name in enumerate(SET_PARAMETERS)}


def code(name: str, value: object) -> float:
    """A parameter as the scorer's float, as the reading path codes it (readings.columns)."""
    if value is None:
        return math.nan
    return CONSCIOUSNESS_CODES[str(value)] if name == "consciousness" else float(value)  # type: ignore[arg-type]


def batch(*readings: tuple[int, float, dict[str, object]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(admission index, minutes after T0, values) per reading, as build_sets' columns."""
    admission = np.array([a for a, _, _ in readings], dtype=np.int64)
    at = np.array([to_micros(T0 + timedelta(minutes=m)) for _, m, _ in readings], dtype=np.int64)
    values = np.array([[code(name, v.get(name)) for name in SET_PARAMETERS] for _, _, v in readings])
    return admission, at, values


def stored(m: int, admission: int, minutes: float, values: dict[str, object], states: States | None = None) -> States:
    states = states or States.empty(m)
    for name, value in values.items():
        states.values[admission, P[name]] = code(name, value)
        states.times[admission, P[name]] = to_micros(T0 + timedelta(minutes=minutes))
    return states


def row(values: np.ndarray, i: int) -> dict[str, float]:
    return {name: values[i, k] for name, k in P.items() if not math.isnan(values[i, k])}


def test_set_combines_devices_within_window() -> None:
    sets = build_sets(
        *batch(
            (0, 0, {"spo2": 93.0, "on_oxygen": False}),
            (0, 20, {"sbp": 104.0, "hr": 97.0}),
            (0, 30, {"rr": 22.0, "hr": 101.0}),
        ),
        States.empty(1),
        WINDOW,
    )
    assert row(sets.values, 2) == {"spo2": 93.0, "on_oxygen": 0.0, "sbp": 104.0, "hr": 101.0, "rr": 22.0}
    assert row(sets.values, 0) == {"spo2": 93.0, "on_oxygen": 0.0}


def test_readings_are_ordered_by_time_whatever_the_arrival_order() -> None:
    sets = build_sets(*batch((0, 30, {"rr": 22.0}), (0, 0, {"spo2": 93.0})), States.empty(1), WINDOW)
    assert row(sets.values, 0) == {"rr": 22.0, "spo2": 93.0}  # rows stay in input order
    assert row(sets.values, 1) == {"spo2": 93.0}


def test_stale_parameter_is_missing_not_reused() -> None:
    sets = build_sets(*batch((0, 0, {"temp": 38.4}), (0, 61, {"hr": 90.0})), States.empty(1), WINDOW)
    assert row(sets.values, 1) == {"hr": 90.0}
    assert sets.states.values[0, P["temp"]] == 38.4  # kept as state, only too old for this set


def test_stored_state_from_earlier_batches_is_used_and_advanced() -> None:
    states = stored(1, 0, -10, {"temp": 38.4, "hr": 70.0})
    sets = build_sets(*batch((0, 0, {"hr": 90.0})), states, WINDOW)
    assert row(sets.values, 0) == {"temp": 38.4, "hr": 90.0}
    assert sets.states.values[0, P["hr"]] == 90.0 and sets.states.times[0, P["hr"]] == to_micros(T0)
    assert sets.states.times[0, P["temp"]] == to_micros(T0 - timedelta(minutes=10))
    assert states.values[0, P["hr"]] == 70.0  # the input is not modified


def test_late_reading_keeps_its_own_values_but_never_uses_later_ones() -> None:
    states = stored(1, 0, 40, {"spo2": 88.0})
    sets = build_sets(*batch((0, 10, {"spo2": 96.0, "hr": 80.0})), states, WINDOW)  # buffered, arrives late
    assert row(sets.values, 0) == {"spo2": 96.0, "hr": 80.0}
    assert sets.states.values[0, P["spo2"]] == 88.0  # the newer value is kept
    assert sets.states.values[0, P["hr"]] == 80.0


def test_stored_value_between_two_batch_readings_wins_over_the_older_one() -> None:
    states = stored(1, 0, 20, {"spo2": 88.0})
    sets = build_sets(*batch((0, 10, {"spo2": 96.0}), (0, 30, {"hr": 80.0})), states, WINDOW)
    assert row(sets.values, 1) == {"spo2": 88.0, "hr": 80.0}
    assert row(sets.values, 0) == {"spo2": 96.0}


def test_admissions_never_see_each_others_values() -> None:
    states = stored(3, 2, -5, {"temp": 37.0})
    sets = build_sets(
        *batch((1, 5, {"rr": 30.0}), (0, 0, {"rr": 12.0}), (2, 0, {"hr": 60.0}), (0, 9, {"hr": 99.0})), states, WINDOW
    )
    assert [row(sets.values, i) for i in range(4)] == [
        {"rr": 30.0},
        {"rr": 12.0},
        {"hr": 60.0, "temp": 37.0},
        {"rr": 12.0, "hr": 99.0},
    ]


def test_same_time_readings_see_earlier_ones_and_the_later_wins_the_state() -> None:
    sets = build_sets(*batch((0, 0, {"hr": 70.0}), (0, 0, {"hr": 75.0, "rr": 14.0})), States.empty(1), WINDOW)
    assert row(sets.values, 0) == {"hr": 70.0}
    assert row(sets.values, 1) == {"hr": 75.0, "rr": 14.0}
    assert sets.states.values[0, P["hr"]] == 75.0


def test_current_set_is_as_at_the_newest_measurement() -> None:
    states = stored(2, 0, 0, {"temp": 38.4})
    states = stored(2, 0, 90, {"hr": 90.0}, states)
    values, newest = current_sets(states, WINDOW)
    assert row(values, 0) == {"hr": 90.0} and from_micros(int(newest[0])) == T0 + timedelta(minutes=90)
    assert row(values, 1) == {} and newest[1] == NEVER


def test_microsecond_times_round_trip() -> None:
    assert from_micros(to_micros(T0 + timedelta(microseconds=7))) == T0 + timedelta(microseconds=7)
