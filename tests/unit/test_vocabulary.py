"""One vocabulary: the modules that used to restate it now take it from ``vward.vocabulary``."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from alerting import news2
from clinician_ui.routes.admin import DeviceIn, UserIn
from clinician_ui.routes.admissions import AdmitIn, DischargeIn
from clinician_ui.security import ROLES
from clinician_ui.sse import SHOWN_FIELDS
from readings.columns import VALUE_COLUMNS
from readings.observation_sets import CONSCIOUSNESS_CODES
from vward import vocabulary as v
from vward.contract import Reading
from vward.seed import DEVICE_KINDS

NOW = "2026-11-23T08:00:00Z"


@pytest.mark.parametrize("vital", list(v.MEASURES))
def test_the_contract_accepts_exactly_the_vocabulary_bounds(vital: v.Vital) -> None:
    measure = v.MEASURES[vital]
    # Each bound alone (diastolic needs no systolic); just outside each is refused.
    for value in (measure.low, measure.high):
        Reading.model_validate({"measured_at": NOW, vital.value: float(value)}, strict=False)
    for value in (measure.low - 0.5, measure.high + 0.5):
        with pytest.raises(ValidationError):
            Reading.model_validate({"measured_at": NOW, vital.value: float(value)}, strict=False)


def test_acvpu_has_one_encoding() -> None:
    assert v.ACVPU == ("A", "C", "V", "P", "U")
    assert news2.CONSCIOUSNESS_CODES == v.ACVPU_CODES
    assert {letter: float(code) for letter, code in v.ACVPU_CODES.items()} == CONSCIOUSNESS_CODES


def test_risk_levels_are_in_order_of_severity() -> None:
    assert news2.RISK_LEVELS == v.RISK_LEVELS == ("low", "low-medium", "medium", "high")


def test_columns_and_stream_fields_come_from_the_vocabulary() -> None:
    assert VALUE_COLUMNS == v.VITAL_FIELDS
    assert set(SHOWN_FIELDS) <= set(v.STREAM_FIELDS)
    assert set(v.MEASURES) | {v.Vital.ON_OXYGEN, v.Vital.CONSCIOUSNESS} == set(v.Vital)


def test_restatements_left_in_the_web_forms_and_seed_match() -> None:
    """Request models keep their Literals for the OpenAPI schema; they must say what the vocabulary says."""

    def choices(model: type, field: str) -> set[str]:
        annotation = model.model_fields[field].annotation  # type: ignore[attr-defined]
        return set(get_args(annotation))

    assert set(DEVICE_KINDS) == set(v.DeviceKind) == choices(DeviceIn, "kind")
    assert set(ROLES) == set(v.Role) == choices(UserIn, "role")
    assert choices(AdmitIn, "source") == set(v.AdmissionSource)
    assert choices(DischargeIn, "outcome") == set(v.DischargeOutcome)
