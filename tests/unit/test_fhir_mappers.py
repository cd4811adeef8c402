"""The pure FHIR mappers: every resource kind validates with fhir.resources and carries the codes, units and
fixed values UK Core and the NEWS2 FHIR conventions ask for; search parameters parse as FHIR defines them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from fhir_r4 import bundles, observations, resources, search
from fhir_r4.errors import BadRequest
from fhir_r4.rows import AdmissionRow, PatientRow, ReadingRow, SourceRef, WardRow
from tests.fhir_checks import SNOMED, check_observation, codes, validate

T = datetime(2026, 11, 20, 8, 15, 30, 123456, tzinfo=UTC)


def reading(**over: object) -> ReadingRow:
    values: dict[str, object] = {
        "admission_id": 7,
        "patient_id": 3,
        "device_id": "ox-1",
        "device_kind": "pulse_oximeter",
        "measured_at": T,
        "received_at": T + timedelta(seconds=2),
        "rr": Decimal("18"),
        "spo2": Decimal("94"),
        "sbp": Decimal("120"),
        "dbp": Decimal("80"),
        "hr": Decimal("90"),
        "temp": Decimal("36.7"),
        "on_oxygen": True,
        "consciousness": "V",
        "resp_distress": None,
        "crt": None,
        "spo2_scale": 1,
        "news2_total": 9,
        "news2_complete": True,
        "news2_risk": "high",
        "sub_scores": (0, 1, 2, 0, 0, 3, 0),
        "sources": {"rr": SourceRef("ox-1", T), "temp": SourceRef("th-1", T - timedelta(minutes=5))},
        "npews_age_band": None,
        "npews_total": None,
        "npews_complete": None,
        "npews_level": None,
        "npews_sub_scores": (None,) * 7,
        "npews_sources": {},
    }
    values.update(over)
    return ReadingRow(**values)  # type: ignore[arg-type]


def test_every_observation_kind_validates_and_carries_its_codes() -> None:
    emitted = observations.observations(reading())
    assert [o["id"].rsplit("-", 1)[1] for o in emitted] == ["rr", "spo2", "o2", "bp", "hr", "temp", "acvpu", "news2"]
    for obs in emitted:
        validate(obs)
        check_observation(obs)
    by_kind = {o["id"].rsplit("-", 1)[1]: o for o in emitted}
    assert by_kind["temp"]["valueQuantity"] == {
        "value": 36.7,
        "unit": "Cel",
        "system": "http://unitsofmeasure.org",
        "code": "Cel",
    }
    assert codes(by_kind["o2"]["code"], SNOMED) == {"371825009"}
    assert codes(by_kind["acvpu"]["valueCodeableConcept"], SNOMED) == {"300202002"}
    assert [c["valueQuantity"]["value"] for c in by_kind["bp"]["component"]] == [120, 80]
    assert codes(by_kind["spo2"]["code"], "http://loinc.org") == {"2708-6", "59408-5"}


def test_news2_has_a_component_per_sub_score_and_derives_from_the_set() -> None:
    obs = observations.news2(reading(spo2_scale=2))
    assert obs is not None
    assert obs["valueQuantity"]["value"] == 9 and "comparator" not in obs["valueQuantity"]
    comps = [(next(iter(codes(c["code"], SNOMED))), c["valueQuantity"]["value"]) for c in obs["component"]]
    assert comps == [
        ("1104301000000104", 0),
        ("1104321000000108", 1),  # Scale 2's code on a Scale 2 admission
        ("1104331000000105", 2),
        ("1104341000000101", 0),
        ("1104351000000103", 0),
        ("1104361000000100", 3),
        ("1104371000000107", 0),
    ]
    th_id = observations.observation_id(7, T - timedelta(minutes=5), "th-1", "temp")
    assert obs["derivedFrom"] == [
        {"reference": f"Observation/{observations.observation_id(7, T, 'ox-1', 'rr')}"},
        {"reference": f"Observation/{th_id}"},
    ]


def test_an_incomplete_set_is_a_floor_never_a_silent_total() -> None:
    obs = observations.news2(reading(news2_total=4, news2_complete=False, sub_scores=(3, None, 0, None, 0, 0, 1)))
    assert obs is not None
    validate(obs)
    check_observation(obs)
    assert obs["valueQuantity"]["comparator"] == ">="
    assert "Incomplete observation set: 5 of 7" in obs["note"][0]["text"]
    absent = [c for c in obs["component"] if "dataAbsentReason" in c]
    assert [next(iter(codes(c["code"], SNOMED))) for c in absent] == ["1104311000000102", "1104341000000101"]


def test_a_child_reading_has_no_news2_and_a_partial_reading_only_its_vitals() -> None:
    child = reading(news2_total=None, news2_complete=None, news2_risk=None, sub_scores=(None,) * 7)
    assert observations.news2(child) is None
    partial = reading(rr=None, spo2=None, sbp=None, hr=None, temp=None, on_oxygen=None, consciousness=None)
    only_dbp = observations.observations(partial, ("bp",))
    assert len(only_dbp) == 1 and [c["code"]["coding"][0]["code"] for c in only_dbp[0]["component"]] == ["8462-4"]
    validate(only_dbp[0])


def test_observation_ids_round_trip_and_stay_within_64_characters() -> None:
    oid = observations.observation_id(2**62, T, "a" * 64, "news2")
    assert len(oid) <= 64
    key = observations.parse_observation_id(oid)
    assert key is not None and key.measured_at == T and key.kind == "news2" and key.admission_id == 2**62
    assert observations.parse_observation_id("7-1-abcdef12-nope") is None
    assert observations.parse_observation_id("../etc") is None
    assert observations.parse_observation_id("9999999999999999999-1-abcdef12-hr") is None  # beyond bigint
    assert observations.parse_observation_id("1--99999999999999999-abcdef12-hr") is None  # before year 1


def test_patient_encounter_organization_validate_with_uk_core_values() -> None:
    pat = resources.patient(PatientRow(3, "9990000018", "Ada", "Jones", date(1940, 2, 3)))
    validate(pat)
    assert pat["identifier"] == [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}]
    assert pat["birthDate"] == "1940-02-03"
    on_ward = resources.encounter(AdmissionRow(7, 3, 5, "frailty", "Frailty VW", "step_down", T, None, None))
    done = resources.encounter(
        AdmissionRow(8, 3, 5, "frailty", "Frailty VW", "step_up", T, T + timedelta(days=3), "conveyed_to_hospital")
    )
    for enc in (on_ward, done):
        validate(enc)
        assert enc["class"]["code"] == "HH"
        assert enc["class"]["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActCode"
        assert codes(enc["type"][0], SNOMED) == {"270420001"}
        assert enc["serviceProvider"]["reference"] == "Organization/ward-frailty"
    assert on_ward["status"] == "in-progress" and "end" not in on_ward["period"]
    assert on_ward["hospitalization"]["admitSource"]["coding"][0]["code"] == "step_down"
    assert done["status"] == "finished" and done["period"]["end"] == "2026-11-23T08:15:30.123456Z"
    assert codes(done["hospitalization"]["dischargeDisposition"], "urn:vward:discharge-outcome") == {
        "conveyed_to_hospital"
    }
    validate(resources.organization(WardRow(5, "frailty", "Frailty VW", "frailty", "LPT")))


def test_bundles_and_capability_statement_validate() -> None:
    obs = observations.observations(reading())
    page = bundles.searchset(
        obs,
        base="http://h/fhir/R4",
        path="Observation",
        params=[("patient", "3")],
        paging=search.Paging(8, 8),
        total=30,
    )
    validate(page)
    rels = {link["relation"]: link["url"] for link in page["link"]}
    assert rels["next"] == "http://h/fhir/R4/Observation?patient=3&_count=8&_offset=16"
    assert rels["previous"].endswith("_offset=0")
    validate(bundles.collection(obs, base="http://h/fhir/R4", now=T))
    validate(bundles.outcome("error", "invalid", "bad"))
    cap = bundles.capability_statement(base="http://h/fhir/R4", token_url="http://h/oauth2/token", now=T)
    validate(cap)
    listed = {r["type"]: {p["name"] for p in r["searchParam"]} for r in cap["rest"][0]["resource"]}
    assert listed == {
        "Patient": {"_id", "identifier"},
        "Encounter": {"_id", "patient", "status"},
        "Observation": {"patient", "date", "code"},
    }


def test_date_prefixes_become_half_open_bounds() -> None:
    b = search.time_bounds(["ge2026-11-01", "le2026-11-02"])
    assert b.start == datetime(2026, 11, 1, tzinfo=UTC) and b.end == datetime(2026, 11, 3, tzinfo=UTC)
    b = search.time_bounds(["gt2026-11-01", "lt2026-11-05T10:00:00Z"])
    assert b.start == datetime(2026, 11, 2, tzinfo=UTC) and b.end == datetime(2026, 11, 5, 10, tzinfo=UTC)
    b = search.time_bounds(["2026-11-01"])
    assert (b.start, b.end) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    for bad in (["ge2026-13-01"], ["ge2026-11-01T10:00:00"], ["bogus"], ["le9999-12-31"]):
        with pytest.raises(BadRequest):
            search.time_bounds(bad)


def test_code_and_reference_and_identifier_tokens() -> None:
    assert search.observation_kinds(["http://loinc.org|8867-4"]) == ("hr",)
    assert search.observation_kinds(["8480-6,1104051000000101"]) == ("bp", "news2")
    assert search.observation_kinds(["http://snomed.info/sct|8867-4"]) == ()
    assert search.observation_kinds([]) == (
        "rr",
        "spo2",
        "o2",
        "bp",
        "hr",
        "temp",
        "acvpu",
        "rd",
        "crt",
        "news2",
        "npews",
    )
    assert search.reference_id("Patient/12", "patient", "Patient") == 12
    assert search.reference_id("http://h/fhir/R4/Patient/12", "patient", "Patient") == 12
    with pytest.raises(BadRequest):
        search.reference_id("Encounter/12", "patient", "Patient")
    assert search.nhs_number("https://fhir.nhs.uk/Id/nhs-number|9990000018") == "9990000018"
    with pytest.raises(BadRequest):
        search.nhs_number("http://other|9990000018")
    assert search.paging("500", None) == search.Paging(search.MAX_COUNT, 0)
    with pytest.raises(BadRequest):
        search.paging("-1", None)
