"""Checks of what the FHIR door emits: structural validation with ``fhir.resources`` (R4B, whose Patient,
Encounter, Observation, Bundle and CapabilityStatement are R4's) and our own checks of codes, units and fixed
values, written out by hand from the issue rather than imported from ``fhir_r4.codes``."""

from __future__ import annotations

import importlib
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"

# kind (the Observation id's suffix) -> (LOINC codes, UCUM unit or None)
EXPECTED_VITALS: dict[str, tuple[set[str], str | None]] = {
    "hr": ({"8867-4"}, "/min"),
    "rr": ({"9279-1"}, "/min"),
    "spo2": ({"2708-6", "59408-5"}, "%"),
    "temp": ({"8310-5"}, "Cel"),
    "bp": ({"85354-9"}, None),
}
ACVPU = {"248234008", "130987000", "300202002", "450847001", "422768004"}
NEWS2_COMPONENTS = {
    "1104301000000104",
    "1104311000000102",
    "1104321000000108",
    "1104331000000105",
    "1104341000000101",
    "1104351000000103",
    "1104361000000100",
    "1104371000000107",
}

# NPEWS: SNOMED CT codes of UK Core's early warning value sets, written out from NHS England's Clinical
# Observations guide: total, chart used, then the seven sub-scores (RR, distress, SpO2, O2, HR, SBP, CRT).
NPEWS_TOTAL = ("1363261000000104", "NPEWS (National Paediatric Early Warning Score) - total score")
NPEWS_CHART_USED = "1364091000000101"
NPEWS_COMPONENTS = (
    "1363271000000106",
    "1363301000000109",
    "1363311000000106",
    "1363321000000100",
    "1363331000000103",
    "1363291000000105",
    "1363341000000107",
)


def validate(resource: dict[str, Any]) -> None:
    """Parses ``resource`` (and every Bundle entry) with its fhir.resources R4B model; raises if invalid."""
    rtype = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}")
    getattr(module, rtype).model_validate(resource)
    for entry in resource.get("entry", []):
        for nested in (entry.get("resource"), entry.get("response", {}).get("outcome")):
            if nested is not None:
                validate(nested)


def codes(concept: dict[str, Any], system: str) -> set[str]:
    return {c["code"] for c in concept.get("coding", []) if c["system"] == system}


def check_observation(obs: dict[str, Any]) -> None:
    """Our own checks of one Observation's codings, units and fixed values, by the kind in its id."""
    kind = obs["id"].rsplit("-", 1)[1]
    assert obs["status"] == "final"
    assert obs["subject"]["reference"].startswith("Patient/")
    assert obs["encounter"]["reference"].startswith("Encounter/")
    assert obs["device"]["identifier"]["value"]
    category = obs["category"][0]["coding"][0]
    if kind == "npews":
        check_npews(obs)
        return
    if kind == "news2":
        assert category["code"] == "survey"
        assert codes(obs["code"], SNOMED) == {"1104051000000101"}
        assert obs["valueQuantity"]["system"] == UCUM and obs["valueQuantity"]["code"] == "{ScoreOf}"
        comps = [codes(c["code"], SNOMED) for c in obs["component"]]
        assert len(comps) == 7 and all(len(c) == 1 and c <= NEWS2_COMPONENTS for c in comps)
        absent = [c for c in obs["component"] if "valueQuantity" not in c]
        assert all("dataAbsentReason" in c for c in absent)
        assert (obs["valueQuantity"].get("comparator") == ">=") == bool(absent)
        assert all(c["valueQuantity"]["code"] == "{ScoreOf}" for c in obs["component"] if "valueQuantity" in c)
        return
    if kind == "rd":  # a visit's respiratory distress, as NHS England's Clinical Observations guide records it
        assert category["code"] == "survey" and codes(obs["code"], SNOMED) == {"1364081000000103"}
        assert obs["valueCodeableConcept"]["text"] in {"None", "Mild", "Moderate", "Severe"}
        return
    if kind == "crt":
        assert category["code"] == "survey" and codes(obs["code"], SNOMED) == {"15527001"}
        assert obs["valueQuantity"]["system"] == UCUM and obs["valueQuantity"]["code"] == "s"
        return
    assert category["code"] == "vital-signs"
    if kind == "o2":
        assert codes(obs["code"], SNOMED) in ({"722742002"}, {"371825009"})
        return
    if kind == "acvpu":
        assert codes(obs["code"], SNOMED) == {"1104441000000107"}
        assert codes(obs["valueCodeableConcept"], SNOMED) <= ACVPU
        return
    loinc, unit = EXPECTED_VITALS[kind]
    assert codes(obs["code"], LOINC) == loinc
    if kind == "bp":
        for comp in obs["component"]:
            assert codes(comp["code"], LOINC) <= {"8480-6", "8462-4"}
            assert comp["valueQuantity"]["system"] == UCUM and comp["valueQuantity"]["code"] == "mm[Hg]"
        return
    assert obs["valueQuantity"]["system"] == UCUM and obs["valueQuantity"]["code"] == unit


def check_npews(obs: dict[str, Any]) -> None:
    """The fixed values of an NPEWS total: SNOMED code and display, survey, ``{ScoreOf}``, the chart used,
    a component per sub-score in chart order, and a floor (``>=`` with a note) whenever a sub-score is absent."""
    assert obs["category"][0]["coding"][0]["code"] == "survey"
    [coding] = [c for c in obs["code"]["coding"] if c["system"] == SNOMED]
    assert (coding["code"], coding["display"]) == NPEWS_TOTAL
    assert obs["valueQuantity"]["system"] == UCUM and obs["valueQuantity"]["code"] == "{ScoreOf}"
    chart, *subs = obs["component"]
    assert codes(chart["code"], SNOMED) == {NPEWS_CHART_USED}
    assert chart["valueCodeableConcept"]["coding"][0]["display"] in {
        "0-11 months",
        "1-4 years",
        "5-12 years",
        "13+ years",
    }
    assert [codes(c["code"], SNOMED) for c in subs] == [{code} for code in NPEWS_COMPONENTS]
    assert all(c["valueQuantity"]["code"] == "{ScoreOf}" for c in subs if "valueQuantity" in c)
    absent = [c for c in subs if "valueQuantity" not in c]
    assert all("dataAbsentReason" in c for c in absent)
    floor = obs["valueQuantity"].get("comparator") == ">="
    assert floor == ("note" in obs)
    if absent:
        assert floor
    assert obs["interpretation"][0]["coding"][0]["code"] in {"none", "low", "medium", "high", "emergency"}
