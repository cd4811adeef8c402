"""The pure decoding of a hospital's Encounter into the hospital admission the outcomes report counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from fhir_r4.encounter_in import decode
from fhir_r4.errors import BadRequest
from vward.vocabulary import ENCOUNTER_CLASS_WORDS, ENCOUNTER_CLASSES

NHS_NUMBER = "9990000077"  # a valid check digit


def _encounter(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [{"system": "https://uhl.example/encounter", "value": " e-1 "}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS_NUMBER}},
        "period": {"start": "2026-06-30T23:30:00Z"},
        "serviceProvider": {"identifier": {"value": "RWE"}},
        "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "233604007", "display": "Pneumonia"}]}],
    }
    return body | changes


def test_a_moment_is_counted_on_its_london_day() -> None:
    posted = decode(_encounter())
    assert posted.identifier == ("https://uhl.example/encounter", "e-1")
    assert posted.nhs_number == NHS_NUMBER
    admission = posted.admission
    assert admission.admitted_at == datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert admission.admitted_on == date(2026, 7, 1)  # 00:30 BST
    assert (admission.encounter_class, admission.hospital, admission.reason) == ("IMP", "RWE", "Pneumonia")


def test_a_date_alone_is_that_day_and_the_reason_is_optional() -> None:
    admission = decode(_encounter(period={"start": "2026-01-15"}, reasonCode=[])).admission
    assert (admission.admitted_on, admission.admitted_at, admission.reason) == (date(2026, 1, 15), None, None)


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"resourceType": "Patient"}, "Encounter"),
        ({"identifier": [{"system": "s"}]}, "identifier"),
        ({"status": "cancelled"}, "status"),
        ({"class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}, "class"),
        ({"class": [{"code": "IMP"}]}, "class"),
        ({"subject": {"reference": "Patient/1"}}, "subject.identifier"),
        ({"subject": "x"}, "subject.identifier"),
        ({"period": {"start": "2026-06"}}, "period.start"),
        ({"period": {"start": "2026-02-30"}}, "period.start"),
        ({"period": "2026-01-01"}, "period.start"),
        ({"serviceProvider": {"display": "  "}}, "serviceProvider"),
        ({"serviceProvider": {"display": "h" * 201}}, "serviceProvider"),
        ({"reasonCode": [{"text": "r" * 501}]}, "reasonCode"),
    ],
)
def test_malformed_encounters_name_the_element(changes: dict[str, Any], names: str) -> None:
    with pytest.raises(BadRequest, match=names):
        decode(_encounter(**changes))


def test_every_encounter_class_is_accepted_and_has_a_word_for_the_ui() -> None:
    """The FHIR door and the clinician's form take their classes from one vocabulary."""
    assert set(ENCOUNTER_CLASS_WORDS) == set(ENCOUNTER_CLASSES)
    for code in ENCOUNTER_CLASSES:
        klass = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code}
        assert decode(_encounter(**{"class": klass})).admission.encounter_class == code
