"""A child's NPEWS total as a FHIR Observation: SNOMED 1363261000000104 with a component per sub-score, the
chart (age band) used, the level the total reaches, derived from the raw Observations; an incomplete set is
a floor, never a silent total."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from fhir_r4 import intake, observations, search
from fhir_r4.rows import ReadingRow, SourceRef
from tests.fhir_bundles import quantity
from tests.fhir_checks import NPEWS_COMPONENTS, SNOMED, check_observation, codes, validate
from tests.unit.test_fhir_mappers import T, reading

CHILD = {
    "news2_total": None,
    "news2_complete": None,
    "news2_risk": None,
    "sub_scores": (None,) * 7,
    "sources": {},
}


def infant(**over: object) -> ReadingRow:
    """The issue's infant: RR 72, SpO2 90, HR 185 on air, SBP 80, CRT 1.5 s, no distress: 12, high."""
    values: dict[str, object] = CHILD | {
        "rr": Decimal("72"),
        "spo2": Decimal("90"),
        "hr": Decimal("185"),
        "sbp": Decimal("80"),
        "dbp": None,
        "temp": None,
        "on_oxygen": False,
        "consciousness": None,
        "resp_distress": "none",
        "crt": Decimal("1.5"),
        "npews_age_band": 0,
        "npews_total": 12,
        "npews_complete": True,
        "npews_level": "high",
        "npews_sub_scores": (4, 0, 4, 0, 4, 0, 0),
        "npews_sources": {p: SourceRef("ox-1", T) for p in ("rr", "resp_distress", "spo2", "oxygen", "hr", "crt")}
        | {"sbp": SourceRef("bp-1", T - timedelta(minutes=3))},
    }
    return reading(**values | over)


def test_the_infant_scores_12_high_on_the_0_to_11_month_chart() -> None:
    obs = observations.npews(infant())
    assert obs is not None
    validate(obs)
    check_observation(obs)
    assert obs["id"] == observations.observation_id(7, T, "ox-1", "npews")
    assert obs["valueQuantity"] == {
        "value": 12,
        "unit": "score",
        "system": "http://unitsofmeasure.org",
        "code": "{ScoreOf}",
    }
    assert "note" not in obs
    assert obs["interpretation"][0]["coding"] == [
        {"system": "urn:vward:npews-level", "code": "high", "display": "high"}
    ]
    chart, *subs = obs["component"]
    assert chart["valueCodeableConcept"]["coding"] == [
        {"system": "urn:vward:npews-age-band", "code": "0", "display": "0-11 months"}
    ]
    assert [(next(iter(codes(c["code"], SNOMED))), c["valueQuantity"]["value"]) for c in subs] == list(
        zip(NPEWS_COMPONENTS, (4, 0, 4, 0, 4, 0, 0), strict=True)
    )
    ox = {kind: observations.observation_id(7, T, "ox-1", kind) for kind in ("rr", "rd", "spo2", "o2", "hr", "crt")}
    bp = observations.observation_id(7, T - timedelta(minutes=3), "bp-1", "bp")
    assert obs["derivedFrom"] == [
        {"reference": f"Observation/{i}"} for i in (ox["rr"], ox["rd"], ox["spo2"], ox["o2"], ox["hr"], bp, ox["crt"])
    ]


def test_a_childs_reading_emits_npews_and_no_news2_and_an_adults_no_npews() -> None:
    kinds = [o["id"].rsplit("-", 1)[1] for o in observations.observations(infant())]
    assert kinds == ["rr", "spo2", "o2", "bp", "hr", "rd", "crt", "npews"]
    assert observations.npews(reading()) is None


def test_the_visits_respiratory_distress_and_capillary_refill_are_observations_of_their_own() -> None:
    rd = observations.observation(infant(resp_distress="severe"), "rd")
    crt = observations.observation(infant(), "crt")
    assert rd is not None and crt is not None
    for obs in (rd, crt):
        validate(obs)
        check_observation(obs)
    assert rd["valueCodeableConcept"] == {"text": "Severe"}
    assert crt["valueQuantity"] == {"value": 1.5, "unit": "s", "system": "http://unitsofmeasure.org", "code": "s"}
    assert observations.observation(reading(), "rd") is None and observations.observation(reading(), "crt") is None


def test_an_incomplete_set_is_a_floor_with_absent_sub_scores_never_zero() -> None:
    obs = observations.npews(
        infant(
            npews_total=8, npews_complete=False, npews_level="medium", npews_sub_scores=(4, None, 4, 0, None, 0, None)
        )
    )
    assert obs is not None
    validate(obs)
    check_observation(obs)
    assert obs["valueQuantity"]["comparator"] == ">=" and obs["valueQuantity"]["value"] == 8
    assert "Incomplete observation set: 4 of 7 parameters" in obs["note"][0]["text"]
    absent = [next(iter(codes(c["code"], SNOMED))) for c in obs["component"][1:] if "dataAbsentReason" in c]
    assert absent == [NPEWS_COMPONENTS[1], NPEWS_COMPONENTS[4], NPEWS_COMPONENTS[6]]


def test_oxygen_at_an_unknown_level_makes_a_full_set_a_floor_that_says_why() -> None:
    obs = observations.npews(infant(npews_total=13, npews_complete=False, npews_sub_scores=(4, 0, 4, 1, 4, 0, 0)))
    assert obs is not None
    check_observation(obs)
    assert obs["valueQuantity"]["comparator"] == ">="
    assert "supplemental oxygen with no recorded level" in obs["note"][0]["text"]


def test_search_by_the_npews_code_and_ids_round_trip() -> None:
    assert search.observation_kinds(["http://snomed.info/sct|1363261000000104"]) == ("npews",)
    assert search.observation_kinds(["1104051000000101,1363261000000104"]) == ("news2", "npews")
    assert search.observation_kinds(["1364081000000103,http://snomed.info/sct|15527001"]) == ("rd", "crt")
    key = observations.parse_observation_id(observations.observation_id(7, T, "ox-1", "npews"))
    assert key is not None and key.kind == "npews" and key.measured_at == T


@pytest.mark.parametrize(("code", "value", "unit"), [("1363261000000104", 12, "{ScoreOf}"), ("15527001", 2, "s")])
def test_fhir_in_refuses_what_it_does_not_take(code: str, value: int, unit: str) -> None:
    """An NPEWS total is computed here; capillary refill is entered on a visit, not posted by a device."""
    posted = quantity("a", "ox-1", T, code, value, unit)
    posted["code"] = {"coding": [{"system": SNOMED, "code": code}]}
    got = intake.decode_entry(0, {"resource": posted})
    assert isinstance(got, intake.Refused) and got.reason == "wrong_type" and "not a vital sign" in got.detail, got
