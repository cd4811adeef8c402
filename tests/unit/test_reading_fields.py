"""One definition of what a reading says (``READING_FIELDS``): every field coded and decoded the same way."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from readings.columns import READING_FIELDS, AcceptedReading, ReadingColumns, field_code, field_value

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
VISIT = AcceptedReading(
    "manual-nurse",
    7,
    T0,
    T0,
    rr=30,
    spo2=96,
    sbp=95,
    dbp=60,
    hr=120,
    temp=37.5,
    on_oxygen=False,
    consciousness="V",
    resp_distress="moderate",
    crt=2.5,
    o2_device="oxygen",
    o2_lpm=1.5,
    carer_answer="W",
    clinical_concern=True,
    sepsis_suspicion=False,
    abnormal_pupils=False,
)


def test_fields_hold_every_field_of_the_reading_in_order() -> None:
    assert tuple(AcceptedReading._fields[4:]) == READING_FIELDS
    fields = ReadingColumns.from_accepted([VISIT]).fields()
    assert fields.shape == (1, len(READING_FIELDS))
    assert fields[0].tolist() == [field_code(name, getattr(VISIT, name)) for name in READING_FIELDS]


def test_each_field_decodes_to_what_was_sent() -> None:
    fields = ReadingColumns.from_accepted([VISIT]).fields()[0].tolist()
    decoded = {name: field_value(name, code) for name, code in zip(READING_FIELDS, fields, strict=True)}
    assert decoded == {name: getattr(VISIT, name) for name in READING_FIELDS}
    assert field_value("on_oxygen", 0.0) is False and field_value("consciousness", 0.0) == "A"


def test_a_missing_field_is_nan_and_decodes_to_none() -> None:
    assert math.isnan(field_code("resp_distress", None)) and field_value("crt", math.nan) is None
