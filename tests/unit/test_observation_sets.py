"""Observation sets take each parameter's latest value within the window, never a later or stale one."""

import math
from datetime import UTC, datetime, timedelta

from ingest.observation_sets import ParameterState, SetColumns

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=60)


def test_set_combines_devices_within_window() -> None:
    state = ParameterState()
    state.merge(T0, {"spo2": 93.0, "on_oxygen": False})
    state.merge(T0 + timedelta(minutes=20), {"sbp": 104.0, "hr": 97.0})
    state.merge(T0 + timedelta(minutes=30), {"rr": 22.0, "hr": 101.0})
    cols = SetColumns()
    cols.append(state, T0 + timedelta(minutes=30), WINDOW, 1)
    assert (cols.spo2, cols.sbp, cols.hr, cols.rr, cols.on_oxygen) == ([93.0], [104.0], [101.0], [22.0], [0.0])
    assert math.isnan(cols.temp[0]) and math.isnan(cols.consciousness[0])


def test_stale_parameter_is_missing_not_reused() -> None:
    state = ParameterState()
    state.merge(T0, {"temp": 38.4})
    state.merge(T0 + timedelta(minutes=61), {"hr": 90.0})
    cols = SetColumns()
    cols.append(state, T0 + timedelta(minutes=61), WINDOW, 1)
    assert math.isnan(cols.temp[0]) and cols.hr == [90.0]


def test_late_reading_never_uses_values_measured_after_it() -> None:
    state = ParameterState()
    state.merge(T0 + timedelta(minutes=40), {"spo2": 88.0})
    state.merge(T0 + timedelta(minutes=10), {"spo2": 96.0, "hr": 80.0})  # buffered, arrives late
    assert state.values["spo2"] == 88.0  # the newer value is kept
    cols = SetColumns()
    cols.append(state, T0 + timedelta(minutes=10), WINDOW, 2)
    assert math.isnan(cols.spo2[0]) and cols.hr == [80.0] and cols.scale == [2]


def test_consciousness_and_oxygen_codes() -> None:
    state = ParameterState()
    state.merge(T0, {"consciousness": "C", "on_oxygen": True})
    cols = SetColumns()
    cols.append(state, T0, WINDOW, 1)
    assert cols.consciousness == [1.0] and cols.on_oxygen == [1.0]
    assert state.newest() == T0
