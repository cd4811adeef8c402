"""Readings into columns: every value in its column, None as NaN, groups repeated per reading, slices."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from readings.columns import VALUE_COLUMNS, AcceptedReading, ReadingColumns, ReadingGroup
from readings.observation_sets import SET_PARAMETERS, to_micros
from vward.contract import Reading

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_groups_become_rows_in_order_with_their_device_admission_and_receive_time() -> None:
    first = [Reading(measured_at=T0, spo2=94, hr=88), Reading(measured_at=T0 + timedelta(minutes=1), rr=19)]
    second = [Reading(measured_at=T0, temp=38.2, on_oxygen=True, consciousness="V")]
    received = T0 + timedelta(seconds=5)
    batch = ReadingColumns.from_groups(
        [
            ReadingGroup("ox-1", 11, received, first),
            ReadingGroup("empty", 12, received, []),
            ReadingGroup("therm-2", 12, received + timedelta(seconds=1), second),
        ]
    )
    assert len(batch) == 3
    assert [batch.device_ids[d] for d in batch.device] == ["ox-1", "ox-1", "therm-2"]
    assert batch.admission_id.tolist() == [11, 11, 12]
    assert batch.received_at.tolist() == [to_micros(received)] * 2 + [to_micros(received + timedelta(seconds=1))]
    assert batch.measured_at.tolist() == [to_micros(T0), to_micros(T0 + timedelta(minutes=1)), to_micros(T0)]
    assert batch.column("spo2")[0] == 94 and batch.column("hr")[0] == 88 and math.isnan(batch.column("rr")[0])
    assert batch.column("rr")[1] == 19
    assert batch.column("temp")[2] == 38.2
    assert batch.column("on_oxygen")[2] == 1.0 and math.isnan(batch.column("on_oxygen")[0])
    assert batch.column("consciousness")[2] == 2.0 and math.isnan(batch.column("consciousness")[1])


def test_a_reading_on_air_is_coded_zero_not_missing() -> None:
    batch = ReadingColumns.from_groups([ReadingGroup("d", 1, T0, [Reading(measured_at=T0, on_oxygen=False)])])
    assert batch.column("on_oxygen").tolist() == [0.0]


def test_offsets_are_normalised_to_utc_micros() -> None:
    plus_one = T0.astimezone(timezone(timedelta(hours=1)))
    batch = ReadingColumns.from_groups([ReadingGroup("d", 1, T0, [Reading(measured_at=plus_one, hr=70)])])
    assert batch.measured_at.tolist() == [to_micros(T0)]


def test_accepted_readings_take_the_same_path() -> None:
    readings = [
        AcceptedReading("manual-u1", 5, T0, T0, sbp=120, dbp=80, consciousness="A"),
        AcceptedReading("manual-u1", 6, T0, T0, rr=25),
    ]
    batch = ReadingColumns.from_accepted(readings)
    assert batch.device_ids == ["manual-u1"] and batch.admission_id.tolist() == [5, 6]
    assert batch.values[0, VALUE_COLUMNS.index("sbp")] == 120 and batch.column("consciousness")[0] == 0.0


def test_set_values_follow_the_observation_set_order() -> None:
    reading = Reading(
        measured_at=T0, rr=18, spo2=95, sbp=120, dbp=70, hr=80, temp=37.0, on_oxygen=True, consciousness="C"
    )
    batch = ReadingColumns.from_groups([ReadingGroup("d", 1, T0, [reading])])
    expected = {"rr": 18, "spo2": 95, "on_oxygen": 1.0, "sbp": 120, "hr": 80, "consciousness": 1.0, "temp": 37.0}
    assert batch.set_values()[0].tolist() == [expected[name] for name in SET_PARAMETERS]


def test_slices_keep_device_codes_valid() -> None:
    groups = [ReadingGroup(f"dev-{k}", k, T0, [Reading(measured_at=T0, hr=60 + k)]) for k in range(4)]
    part = ReadingColumns.from_groups(groups).slice(2, 4)
    assert [part.device_ids[d] for d in part.device] == ["dev-2", "dev-3"]
    assert part.column("hr").tolist() == [62, 63] and len(part) == 2
    assert len(ReadingColumns.from_groups(groups).slice(0, 0)) == 0


def test_no_readings_make_empty_columns() -> None:
    batch = ReadingColumns.from_groups([])
    assert len(batch) == 0 and batch.values.shape == (0, len(VALUE_COLUMNS)) and batch.device.dtype == np.int64
