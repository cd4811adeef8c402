"""Hospital readmission recorded, not approximated: a hospital system posts an inpatient or emergency
``Encounter`` for a former virtual-ward patient (scope ``system/Encounter.write``; validated, idempotent on its
identifier, audited), and a coordinator records one by hand on a discharged stay. The outcomes report then
counts them (the figures themselves are checked against the hand-computed fixture in ``test_reports``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from clinician_ui import reports as rp
from clinician_ui.queries import reports as q
from tests.fhir_checks import validate
from tests.integration import seeding
from tests.integration.test_fhir_api import issue, token
from tests.integration.ui_helpers import app_client, nhs, sign_in, signed_in
from vward.config import Settings

LONDON = ZoneInfo("Europe/London")
NOW = datetime.now(UTC).replace(microsecond=0)
DISCHARGED = NOW - timedelta(days=20)


@pytest.fixture
def stays(clean_db: psycopg.Connection) -> dict[str, int]:
    """Patient 1 left the frailty ward 20 days ago; patient 2 is still on it."""
    out: dict[str, int] = {}
    for n, discharged in ((1, DISCHARGED), (2, None)):
        pid = seeding.patient(clean_db, nhs(300 + n), "Hospital", born=date(1944, 4, 4))
        out[f"patient{n}"] = pid
        out[f"stay{n}"] = seeding.stay(
            clean_db,
            pid,
            admitted_at=NOW - timedelta(days=30),
            discharged_at=discharged,
            outcome="recovered_at_home" if discharged else None,
        )
    return out


@pytest.fixture
def admin(clean_db: psycopg.Connection, settings: Settings) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "admin") as client:
        yield client


@pytest.fixture
def hospital(admin: TestClient, settings: Settings) -> Iterator[TestClient]:
    """A hospital's EPR with the Encounter write scope only."""
    cid, secret = issue(admin, "uhl-epr", "system/Encounter.write")
    with app_client(settings) as client:
        client.headers["Authorization"] = f"Bearer {token(client, cid, secret)}"
        yield client


def encounter(ident: str, nhs_number: str, start: str, klass: str = "IMP", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": "https://uhl.example/encounter", "value": ident}],
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
        "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}},
        "period": {"start": start},
        "serviceProvider": {"display": "Leicester Royal Infirmary"},
        "reasonCode": [{"text": "community-acquired pneumonia"}],
        **extra,
    }


def _diagnostics(r: Any) -> str:
    body = r.json()
    assert body["resourceType"] == "OperationOutcome", body
    validate(body)
    return str(body["issue"][0]["diagnostics"])


def test_a_hospital_posts_an_admission_once_and_again_stores_nothing_new(
    hospital: TestClient, stays: dict[str, int], clean_db: psycopg.Connection
) -> None:
    start = (NOW - timedelta(days=5)).isoformat().replace("+00:00", "Z")
    posted = encounter("adm-1", nhs(301), start, "EMER")
    validate(posted)
    r = hospital.post("/fhir/R4/Encounter", json=posted)
    assert r.status_code == 201, r.text
    assert "recorded" in _diagnostics(r)
    again = hospital.post("/fhir/R4/Encounter", json=posted)
    assert again.status_code == 200 and "nothing new" in _diagnostics(again)
    rows = clean_db.execute(
        "SELECT patient_id, admitted_on, encounter_class, hospital, reason, api_client_id FROM hospital_admissions"
    ).fetchall()
    assert rows == [
        (
            stays["patient1"],
            (NOW - timedelta(days=5)).astimezone(LONDON).date(),
            "EMER",
            "Leicester Royal Infirmary",
            "community-acquired pneumonia",
            "uhl-epr",
        )
    ]
    audit = clean_db.execute(
        "SELECT api_client_id, action, entity, entity_id FROM audit_log WHERE action LIKE 'hospital_admission%%'"
    ).fetchall()
    assert audit == [("uhl-epr", "hospital_admission.record", "patient", str(stays["patient1"]))]

    # the outcomes report counts it for the discharge 20 days ago (within 30 and 90 days)
    figures = rp.Figures(q.outcomes(clean_db, date_from=DISCHARGED.date(), date_to=NOW.date(), now=NOW))
    assert figures.get("frailty", "readmitted_to_hospital", "30_days") == 1
    assert figures.get("frailty", "readmitted_to_hospital", "90_days") == 1


BAD_ENCOUNTERS: list[tuple[str, dict[str, Any], int, str]] = [
    ("not an Encounter", {"resourceType": "Observation"}, 400, "POST an Encounter"),
    ("no identifier", encounter("x", nhs(301), "2026-01-01") | {"identifier": []}, 400, "identifier"),
    ("planned", encounter("x", nhs(301), "2026-01-01") | {"status": "planned"}, 400, "status"),
    ("home health", encounter("x", nhs(301), "2026-01-01", "HH"), 400, "class"),
    ("bad NHS number", encounter("x", "1234567890", "2026-01-01"), 400, "subject.identifier"),
    ("no start", encounter("x", nhs(301), "2026-01-01") | {"period": {}}, 400, "period.start"),
    ("no zone", encounter("x", nhs(301), "2026-01-01T10:00:00"), 400, "time zone"),
    ("not a date", encounter("x", nhs(301), "2026-13-01"), 400, "period.start"),
    ("no hospital", encounter("x", nhs(301), "2026-01-01") | {"serviceProvider": {}}, 400, "serviceProvider"),
    ("unknown patient", encounter("x", nhs(399), "2026-01-01"), 422, "no virtual-ward patient"),
    ("still on the ward", encounter("x", nhs(302), date.today().isoformat()), 422, "had not been discharged"),
    ("before the discharge", encounter("x", nhs(301), "2001-01-01"), 422, "had not been discharged"),
    ("in the future", encounter("x", nhs(301), "2199-01-01"), 422, "between 2000-01-01 and today"),
]


@pytest.mark.parametrize(("name", "body", "status", "message"), BAD_ENCOUNTERS, ids=[b[0] for b in BAD_ENCOUNTERS])
def test_bad_encounters_are_operation_outcomes_and_store_nothing(
    hospital: TestClient,
    stays: dict[str, int],
    clean_db: psycopg.Connection,
    name: str,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    r = hospital.post("/fhir/R4/Encounter", json=body)
    assert r.status_code == status, r.text
    assert message in _diagnostics(r)
    assert clean_db.execute("SELECT count(*) FROM hospital_admissions").fetchone() == (0,)


def test_the_encounter_door_needs_its_own_scope(admin: TestClient, stays: dict[str, int], settings: Settings) -> None:
    body = encounter("adm-2", nhs(301), date.today().isoformat())
    cid, secret = issue(admin, "vendor-obs", "system/Observation.write")
    with app_client(settings) as vendor:
        vendor.headers["Authorization"] = f"Bearer {token(vendor, cid, secret)}"
        r = vendor.post("/fhir/R4/Encounter", json=body)
        assert r.status_code == 403 and "system/Encounter.write" in _diagnostics(r)
    with app_client(settings) as anonymous:
        assert anonymous.post("/fhir/R4/Encounter", json=body).status_code == 401


@pytest.fixture
def coordinator(clean_db: psycopg.Connection, settings: Settings) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "coordinator") as client:
        yield client


def test_a_coordinator_records_one_by_hand_on_a_discharged_stay(
    coordinator: TestClient, stays: dict[str, int], clean_db: psycopg.Connection, settings: Settings
) -> None:
    stay = stays["stay1"]
    record = coordinator.get(f"/patients/{stay}", headers={"Accept": "text/html"})
    assert f'href="/patients/{stay}/hospital-admissions"' in record.text
    day = (NOW - timedelta(days=3)).astimezone(LONDON).date()
    r = coordinator.post(
        f"/api/admissions/{stay}/hospital-admissions",
        json={"admitted_on": day.isoformat(), "hospital": "Glenfield Hospital", "reason": "fall"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["patient_id"] == stays["patient1"]
    page = coordinator.get(f"/patients/{stay}/hospital-admissions", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Glenfield Hospital" in page.text and "fall" in page.text
    form = {"csrf_token": coordinator.headers["X-CSRF-Token"], "admitted_on": day.isoformat(), "hospital": "LGH"}
    posted = coordinator.post(
        f"/api/admissions/{stay}/hospital-admissions",
        data=form | {"encounter_class": "EMER", "reason": ""},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert posted.status_code == 303 and posted.headers["location"] == f"/patients/{stay}/hospital-admissions"
    assert clean_db.execute("SELECT reason FROM hospital_admissions WHERE hospital = 'LGH'").fetchall() == [(None,)]
    clean_db.execute("DELETE FROM hospital_admissions WHERE hospital = 'LGH'")
    audit = clean_db.execute(
        "SELECT u.username, a.detail->>'source', a.detail->>'hospital' FROM audit_log a JOIN users u"
        " ON u.id = a.actor_id WHERE a.action = 'hospital_admission.record' ORDER BY a.id"
    ).fetchall()
    assert audit == [("coordinator", "manual", "Glenfield Hospital"), ("coordinator", "manual", "LGH")]

    # bad input is a 4xx with a message, never a 500, and stores nothing more
    for body, status, message in (
        ({"admitted_on": "2026-02-30", "hospital": "X"}, 422, "admitted_on"),
        ({"admitted_on": day.isoformat(), "hospital": ""}, 422, "hospital"),
        ({"admitted_on": day.isoformat(), "hospital": "   "}, 422, "hospital"),
        ({"admitted_on": day.isoformat(), "hospital": "X", "encounter_class": "HH"}, 422, "encounter_class"),
        ({"admitted_on": "2199-01-01", "hospital": "X"}, 422, "admitted_on"),
        ({"admitted_on": "2001-01-01", "hospital": "X"}, 422, "had not been discharged"),
        ({"admitted_on": day.isoformat(), "hospital": "X", "reason": "r" * 501}, 422, "reason"),
    ):
        bad = coordinator.post(f"/api/admissions/{stay}/hospital-admissions", json=body)
        assert bad.status_code == status, (body, bad.text)
        assert message in bad.json()["detail"], (body, bad.text)
    still_on_ward = coordinator.post(
        f"/api/admissions/{stays['stay2']}/hospital-admissions", json={"admitted_on": day.isoformat(), "hospital": "X"}
    )
    assert still_on_ward.status_code == 409 and "still on the virtual ward" in still_on_ward.json()["detail"]
    assert coordinator.post("/api/admissions/999999/hospital-admissions", json={}).status_code in (404, 422)
    assert clean_db.execute("SELECT count(*) FROM hospital_admissions").fetchone() == (1,)

    with app_client(settings) as nurse:
        nurse.headers["X-CSRF-Token"] = sign_in(nurse, "nurse.community")
        refused = nurse.post(
            f"/api/admissions/{stay}/hospital-admissions", json={"admitted_on": day.isoformat(), "hospital": "X"}
        )
        assert refused.status_code == 403
