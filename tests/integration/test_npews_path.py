"""A child's readings scored with NPEWS through the real reading path, raising alerts in the one lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from tests.integration.ui_helpers import admit_body, signed_in
from vward.config import Settings

INFANT_DETERIORATING = {"rr": 72, "spo2": 90, "hr": 185, "on_oxygen": False, "sbp": 80, "crt": 1.5}


@pytest.fixture
def nurse(clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "coordinator") as client:
        yield client


def admit_child(client: TestClient, conn: psycopg.Connection, n: int, born: date, ward: str = "paediatric") -> int:
    r = client.post("/api/admissions", json=admit_body(conn, n, ward, date_of_birth=born.isoformat()))
    assert r.status_code == 201, r.text
    return int(r.json()["admission_id"])


def observe(client: TestClient, admission_id: int, **values: Any) -> None:
    r = client.post(f"/api/patients/{admission_id}/observations", json=values)
    assert r.status_code == 201, r.text


def queue(client: TestClient) -> list[dict[str, Any]]:
    r = client.get("/api/alerts")
    assert r.status_code == 200, r.text
    return list(r.json())


def test_an_infant_scores_12_high_and_severe_distress_makes_it_emergency(
    clean_db: psycopg.Connection, nurse: TestClient
) -> None:
    infant = admit_child(nurse, clean_db, 1, date.today() - timedelta(days=120))
    observe(nurse, infant, **INFANT_DETERIORATING, resp_distress="none")

    row = clean_db.execute(
        "SELECT npews_age_band, npews_total, npews_complete, npews_level, npews_rr, npews_resp_distress, npews_spo2,"
        " npews_oxygen, npews_hr, npews_sbp, npews_crt, news2_total, resp_distress FROM readings"
    ).fetchone()
    assert row == (0, 12, True, "high", 4, 0, 4, 0, 4, 0, 0, None, "none")
    [alert] = queue(nurse)
    assert (alert["admission_id"], alert["score"], alert["risk"], alert["trigger"]) == (
        infant,
        "npews",
        "high",
        "npews",
    )
    assert (alert["npews_total"], alert["npews_complete"], alert["news2_total"]) == (12, True, None)
    assert alert["reason"] == "high: PEWS 12 (9-12)"
    assert [label for label, _ in alert["subs"]] == ["RR", "Resp. distress", "SpO2", "O2", "HR", "SBP", "CRT"]

    # The visiting nurse sees severe distress: entered by hand, it joins the devices' set (16) and escalates.
    observe(nurse, infant, resp_distress="severe")
    [alert] = queue(nurse)
    assert (alert["risk"], alert["npews_total"], alert["status"]) == ("emergency", 16, "raised")
    assert alert["reason"] == "emergency: PEWS 16 (13 or more)"
    assert alert["acknowledge_due_at"] == alert["raised_at"] or alert["overdue"]  # "at once"
    page = nurse.get("/", headers={"Accept": "text/html"}).text
    assert "Emergency: call 999 from the home" in page
    events = clean_db.execute("SELECT event, risk FROM alert_events ORDER BY id").fetchall()
    assert events == [("raised", "high"), ("risk_increased", "emergency")]


def test_a_carers_w_raises_an_alert_a_clinician_must_grade(clean_db: psycopg.Connection, nurse: TestClient) -> None:
    child = admit_child(nurse, clean_db, 2, date.today() - timedelta(days=365 * 3))
    observe(nurse, child, rr=28, hr=110, spo2=98)  # all normal for a 3-year-old: no alert
    assert queue(nurse) == []

    observe(nurse, child, carer_answer="W")
    [alert] = queue(nurse)
    assert (alert["trigger"], alert["awaiting_grade"], alert["risk"]) == ("npews_concern", True, "medium")
    assert alert["reason"].startswith("the carer says the child is worse (W): a clinician must choose the level")
    assert clean_db.execute("SELECT carer_answer FROM readings WHERE carer_answer IS NOT NULL").fetchall() == [("W",)]
    assert "a clinician must grade this alert" in nurse.get("/", headers={"Accept": "text/html"}).text

    r = nurse.post(f"/api/alerts/{alert['id']}/grade", json={"level": "high"})
    assert r.status_code == 200, r.text
    graded = r.json()
    assert (graded["risk"], graded["awaiting_grade"], graded["status"]) == ("high", False, "raised")
    assert "graded high by a clinician" in graded["reason"]
    audit = clean_db.execute("SELECT action, actor_id FROM audit_log WHERE action = 'alert.graded'").fetchall()
    assert len(audit) == 1 and audit[0][1] is not None
    again = nurse.post(f"/api/alerts/{alert['id']}/grade", json={"level": "low"})
    assert again.status_code == 409  # graded once; a new W asks again
    assert nurse.post(f"/api/alerts/{alert['id']}/grade", json={"level": "purple"}).status_code == 422


def test_just_not_right_by_hand_asks_for_a_grade_on_the_open_alert(
    clean_db: psycopg.Connection, nurse: TestClient
) -> None:
    child = admit_child(nurse, clean_db, 3, date.today() - timedelta(days=365 * 8))
    observe(nurse, child, rr=45, hr=150, spo2=96)  # 5-12 years: RR 2 + HR 2 + SpO2 0 = 4 (low): no alert
    assert queue(nurse) == []
    observe(nurse, child, sepsis_suspicion=True)
    [alert] = queue(nurse)
    assert (alert["risk"], alert["awaiting_grade"]) == ("medium", False)
    assert alert["reason"] == "medium: new suspicion of sepsis; low: PEWS at least 4 (1-4)"  # BP, CRT, distress unknown
    observe(nurse, child, clinical_concern=True)
    [alert] = queue(nurse)
    assert (alert["risk"], alert["awaiting_grade"]) == ("medium", True)
    assert "just not right" in alert["reason"]


def test_hand_entry_refuses_impossible_child_values(clean_db: psycopg.Connection, nurse: TestClient) -> None:
    child = admit_child(nurse, clean_db, 4, date.today() - timedelta(days=365 * 2))
    for body, message in (
        ({"resp_distress": "dreadful"}, "resp_distress"),
        ({"crt": 90}, "crt"),
        ({"carer_answer": "X"}, "carer_answer"),
        ({}, "at least one vital sign"),
    ):
        r = nurse.post(f"/api/patients/{child}/observations", json=body)
        assert r.status_code in (400, 422) and message in r.text, (body, r.text)


def test_adults_keep_news2_and_null_npews(clean_db: psycopg.Connection, nurse: TestClient) -> None:
    r = nurse.post("/api/admissions", json=admit_body(clean_db, 5, "frailty"))
    adult = int(r.json()["admission_id"])
    observe(nurse, adult, rr=20, hr=95, spo2=95)  # NEWS2: pulse 1 + SpO2 1
    row = clean_db.execute("SELECT news2_total, npews_total, npews_level, npews_age_band FROM readings").fetchone()
    assert row == (2, None, None, None)
    assert queue(nurse) == []


def test_a_grade_below_the_provisional_level_keeps_the_alert_open_at_that_level(
    clean_db: psycopg.Connection, nurse: TestClient
) -> None:
    child = admit_child(nurse, clean_db, 6, date.today() - timedelta(days=365 * 10))
    observe(nurse, child, carer_answer="W")  # nothing measured yet: the answer alone
    [alert] = queue(nurse)
    assert (alert["risk"], alert["awaiting_grade"], alert["npews_total"]) == ("medium", True, 0)
    assert nurse.post(f"/api/alerts/{alert['id']}/actions", json={"action": "acknowledge"}).status_code == 200
    graded = nurse.post(f"/api/alerts/{alert['id']}/grade", json={"level": "low"}).json()
    assert (graded["risk"], graded["status"], graded["awaiting_grade"]) == ("low", "acknowledged", False)


def test_the_hand_entry_form_takes_a_childs_observations(clean_db: psycopg.Connection, nurse: TestClient) -> None:
    child = admit_child(nurse, clean_db, 7, date.today() - timedelta(days=365 * 2))
    page = nurse.get(f"/patients/{child}", headers={"Accept": "text/html"}).text
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {
        "csrf_token": csrf,
        "rr": "30",
        "hr": "",
        "resp_distress": "moderate",
        "crt": "3",
        "o2_device": "oxygen",
        "o2_lpm": "1",
        "carer_answer": "S",
        "sepsis_suspicion": "true",
    }
    r = nurse.post(
        f"/api/patients/{child}/observations", data=form, headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    row = clean_db.execute(
        "SELECT resp_distress, crt, o2_device, o2_lpm, carer_answer, sepsis_suspicion, npews_resp_distress,"
        " npews_oxygen, npews_crt, npews_total FROM readings"
    ).fetchone()
    assert row == ("moderate", 3.0, "oxygen", 1.0, "S", True, 2, 1, 2, 5)  # RR 30 on the 1-4 chart: 0
    [alert] = queue(nurse)
    assert alert["reason"] == "medium: PEWS at least 5 (5-8); medium: new suspicion of sepsis"


def test_readings_arriving_close_a_childs_missed_readings_alert(
    clean_db: psycopg.Connection, settings: Settings, nurse: TestClient
) -> None:
    from alerting.clocks import raise_missed_readings

    child = admit_child(nurse, clean_db, 8, date.today() - timedelta(days=365 * 6))
    clean_db.execute("UPDATE admissions SET admitted_at = now() - interval '2 days' WHERE id = %s", (child,))
    assert raise_missed_readings(clean_db, settings=settings, now=datetime.now(UTC)) >= 1
    assert [a["trigger"] for a in queue(nurse)] == ["missed_readings"]
    observe(nurse, child, rr=22, hr=90, spo2=98)  # normal for a 6-year-old
    assert queue(nurse) == []
    events = clean_db.execute("SELECT event FROM alert_events ORDER BY id").fetchall()
    assert events == [("raised",), ("readings_resumed",)]
