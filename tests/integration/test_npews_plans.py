"""Escalation plans: recorded and audited; a plan patient's alert shows the plan first and offers no transfer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from tests.integration.test_npews_path import INFANT_DETERIORATING, admit_child, observe, queue
from tests.integration.ui_helpers import admit_body, signed_in
from vward.config import Settings

PLAN = "Symptom control at home, no transfer to hospital"
DETERIORATING = {"rr": 30, "spo2": 85, "on_oxygen": True, "sbp": 88, "hr": 135, "temp": 39.4, "consciousness": "V"}


@pytest.fixture
def nurse(clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "coordinator") as client:
        yield client


def record_plan(client: TestClient, admission_id: int, **overrides: object) -> int:
    body = {
        "plan": PLAN,
        "reason": "ReSPECT form agreed with the patient and her family",
        "hospital_transfer": False,
        "review_on": (date.today() + timedelta(days=14)).isoformat(),
        **overrides,
    }
    r = client.post(f"/api/patients/{admission_id}/escalation-plan", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_palliative_patients_alert_shows_the_plan_and_offers_no_hospital_transfer(
    clean_db: psycopg.Connection, nurse: TestClient
) -> None:
    adm = int(nurse.post("/api/admissions", json=admit_body(clean_db, 21, "palliative")).json()["admission_id"])
    record_plan(nurse, adm)
    observe(nurse, adm, **DETERIORATING)

    [alert] = queue(nurse)
    assert alert["escalation_plan"] == PLAN and alert["plan_allows_transfer"] is False
    assert alert["response_kinds"] == ["phone", "video", "home_visit"]
    assert (alert["score"], alert["risk"]) == ("news2", "high") and alert["news2_total"] >= 7  # still scored
    page = nurse.get("/", headers={"Accept": "text/html"}).text
    item = page[page.index(f'id="alert-{alert["id"]}"') :]
    assert item.index("Escalation plan:") < item.index("NEWS2")  # the plan first
    assert 'value="emergency_999"' not in item

    assert nurse.post(f"/api/alerts/{alert['id']}/actions", json={"action": "acknowledge"}).status_code == 200
    refused = nurse.post(
        f"/api/alerts/{alert['id']}/actions", json={"action": "respond", "response_kind": "emergency_999"}
    )
    assert refused.status_code == 409 and PLAN in refused.text
    done = nurse.post(f"/api/alerts/{alert['id']}/actions", json={"action": "respond", "response_kind": "home_visit"})
    assert done.status_code == 200 and done.json()["status"] == "responded"

    patient = nurse.get(f"/patients/{adm}", headers={"Accept": "text/html"}).text
    assert patient.index('id="escalation-plan"') < patient.index("<h2>Last 24 hours</h2>")
    assert 'id="plan-review-due"' not in patient
    record_plan(nurse, adm, review_on=date.today().isoformat())
    assert 'id="plan-review-due"' in nurse.get(f"/patients/{adm}", headers={"Accept": "text/html"}).text
    audit = clean_db.execute(
        "SELECT actor_id IS NOT NULL, detail->>'plan' FROM audit_log WHERE action = 'escalation_plan.recorded'"
    ).fetchall()
    assert audit == [(True, PLAN), (True, PLAN)]


def test_a_new_plan_supersedes_the_old_and_bad_plans_are_refused(
    clean_db: psycopg.Connection, nurse: TestClient
) -> None:
    adm = int(nurse.post("/api/admissions", json=admit_body(clean_db, 22, "palliative")).json()["admission_id"])
    record_plan(nurse, adm)
    record_plan(nurse, adm, plan="Hospital transfer if reversible", hospital_transfer=True)
    current = nurse.get(f"/api/patients/{adm}/escalation-plan").json()
    assert current["plan"]["plan"] == "Hospital transfer if reversible"
    assert "emergency_999" in current["response_kinds"]
    assert clean_db.execute("SELECT count(*) FROM escalation_plans").fetchone() == (2,)  # none deleted
    past = nurse.post(
        f"/api/patients/{adm}/escalation-plan",
        json={"plan": "x", "reason": "y", "hospital_transfer": False, "review_on": "2020-01-01"},
    )
    assert past.status_code == 409 and "review date" in past.text
    assert nurse.post(f"/api/patients/{adm}/escalation-plan", json={"plan": ""}).status_code == 422
    assert nurse.get("/api/patients/999999/escalation-plan").status_code == 404


def test_the_patient_page_names_the_score_and_an_emergency_asks_for_999(
    clean_db: psycopg.Connection, nurse: TestClient
) -> None:
    infant = admit_child(nurse, clean_db, 23, date.today() - timedelta(days=100))
    observe(nurse, infant, **INFANT_DETERIORATING, resp_distress="severe")
    page = nurse.get(f"/patients/{infant}", headers={"Accept": "text/html"}).text
    assert "NPEWS, 0-11 months chart" in page
    assert 'id="npews-table"' in page and "sternal recession" in page  # the under-5 descriptors offered
    assert 'id="call-999"' in page and "call 999 from the home" in page
    record_plan(nurse, infant, plan="Comfort care at home with the family")
    page = nurse.get(f"/patients/{infant}", headers={"Accept": "text/html"}).text
    assert "call 999 from the home" not in page and "follow the escalation plan" in page
    adult = int(nurse.post("/api/admissions", json=admit_body(clean_db, 24)).json()["admission_id"])
    assert "Score: <strong>NEWS2</strong>" in nurse.get(f"/patients/{adult}", headers={"Accept": "text/html"}).text
