"""A child's NPEWS totals through the FHIR door, scored by the real reading path: in Observation searches by
the NPEWS code and in the end-of-stay export, validated with fhir.resources, with the fixed values checked,
derived from Observations the API really emits, and an incomplete set a floor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.fhir_checks import NPEWS_COMPONENTS, SNOMED, check_observation, codes, validate
from tests.integration.test_fhir_api import issue, token
from tests.integration.ui_helpers import admit_body, app_client, seed_users, sign_in
from vward.config import Settings

NPEWS_CODE = "http://snomed.info/sct|1363261000000104"


@pytest.fixture
def clients(clean_db: psycopg.Connection, settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """A signed-in coordinator (to admit and observe) and an EPR's API client with the read scope."""
    seed_users(clean_db)
    with app_client(settings) as nurse, app_client(settings) as admin, app_client(settings) as epr:
        nurse.headers["X-CSRF-Token"] = sign_in(nurse, "coordinator")
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        cid, secret = issue(admin, "epr-children", "system/*.read")
        epr.headers["Authorization"] = f"Bearer {token(epr, cid, secret)}"
        yield nurse, epr


@pytest.fixture
def infant(clean_db: psycopg.Connection, clients: tuple[TestClient, TestClient]) -> dict[str, int]:
    """An infant whose first reading (HR 185, SpO2 90) is an incomplete set, completed by a visit: RR 72 on
    air, SBP 80, CRT 1.5 s, no distress, the issue's 12."""
    nurse, _ = clients
    born = date.today() - timedelta(days=120)
    r = nurse.post("/api/admissions", json=admit_body(clean_db, 41, "paediatric", date_of_birth=born.isoformat()))
    assert r.status_code == 201, r.text
    admission = int(r.json()["admission_id"])
    for values in (
        {"hr": 185, "spo2": 90},
        {"rr": 72, "on_oxygen": False, "sbp": 80, "crt": 1.5, "resp_distress": "none"},
    ):
        r = nurse.post(f"/api/patients/{admission}/observations", json=values)
        assert r.status_code == 201, r.text
    patient = clean_db.execute("SELECT patient_id FROM admissions WHERE id = %s", (admission,)).fetchone()
    assert patient is not None
    return {"admission": admission, "patient": int(patient[0])}


def _bundle(epr: TestClient, url: str) -> dict[str, Any]:
    r = epr.get(url)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    validate(body)
    return body


def test_npews_totals_are_found_by_their_code_incomplete_first_then_the_issues_12(
    clients: tuple[TestClient, TestClient], infant: dict[str, int]
) -> None:
    _, epr = clients
    bundle = _bundle(epr, f"/fhir/R4/Observation?patient={infant['patient']}&code={NPEWS_CODE}")
    assert bundle["total"] == 2
    first, second = (e["resource"] for e in bundle["entry"])
    for obs in (first, second):
        check_observation(obs)
        assert obs["encounter"]["reference"] == f"Encounter/{infant['admission']}"
        assert obs["component"][0]["valueCodeableConcept"]["coding"][0]["display"] == "0-11 months"

    # HR 185 and SpO2 90 alone: 8 of the chart's points, a floor with five sub-scores absent, never 0.
    assert (first["valueQuantity"]["value"], first["valueQuantity"]["comparator"]) == (8, ">=")
    assert "Incomplete observation set: 2 of 7" in first["note"][0]["text"]
    assert first["interpretation"][0]["coding"][0]["code"] == "medium"
    present = {next(iter(codes(c["code"], SNOMED))) for c in first["component"][1:] if "valueQuantity" in c}
    assert present == {NPEWS_COMPONENTS[2], NPEWS_COMPONENTS[4]}

    # The visit completes the set: RR 72 (4), SpO2 90 (4), HR 185 (4) on air: 12, high.
    assert second["valueQuantity"]["value"] == 12 and "comparator" not in second["valueQuantity"]
    assert "note" not in second
    assert second["interpretation"][0]["coding"][0]["code"] == "high"
    scores = [c["valueQuantity"]["value"] for c in second["component"][1:]]
    assert scores == [4, 0, 4, 0, 4, 0, 0]

    # derivedFrom names raw Observations the API emits, each readable by id.
    everything = _bundle(epr, f"/fhir/R4/Observation?patient={infant['patient']}")
    emitted = {e["resource"]["id"] for e in everything["entry"]}
    derived = [d["reference"].removeprefix("Observation/") for d in second["derivedFrom"]]
    assert [i.rsplit("-", 1)[1] for i in derived] == ["rr", "rd", "spo2", "o2", "hr", "bp", "crt"]
    assert set(derived) <= emitted
    r = epr.get(f"/fhir/R4/Observation/{derived[0]}")
    assert r.status_code == 200 and r.json()["id"] == derived[0]
    visit = {e["resource"]["id"].rsplit("-", 1)[1]: e["resource"] for e in everything["entry"]}
    assert visit["rd"]["valueCodeableConcept"]["text"] == "None" and visit["crt"]["valueQuantity"]["value"] == 1.5
    for entry in everything["entry"]:
        check_observation(entry["resource"])
    # A child is scored with NPEWS only: no NEWS2 anywhere in the record.
    assert not [i for i in emitted if i.endswith("-news2")]
    assert _bundle(epr, f"/fhir/R4/Observation?patient={infant['patient']}&code=1104051000000101")["total"] == 0


def test_the_end_of_stay_export_carries_the_npews_totals(
    clients: tuple[TestClient, TestClient], infant: dict[str, int]
) -> None:
    _, epr = clients
    bundle = _bundle(epr, f"/fhir/R4/Encounter/{infant['admission']}/$export")
    assert bundle["type"] == "collection"
    resources = [e["resource"] for e in bundle["entry"]]
    npews = [r for r in resources if r["resourceType"] == "Observation" and r["id"].endswith("-npews")]
    for obs in npews:
        check_observation(obs)
    assert [(o["valueQuantity"]["value"], o["valueQuantity"].get("comparator")) for o in npews] == [
        (8, ">="),
        (12, None),
    ]
    ids = {r["id"] for r in resources}
    assert all(d["reference"].removeprefix("Observation/") in ids for o in npews for d in o.get("derivedFrom", []))
