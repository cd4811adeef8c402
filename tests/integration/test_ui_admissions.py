"""Admissions against capacity, readmission flag, discharge freeing devices and closing alerts, audit, and bad
input as 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerting.clocks import run_clocks
from alerting.raising import record_scores
from tests.integration.alert_helpers import events, scored
from tests.integration.ui_helpers import admit_body, app_client, sign_in, signed_in, ward_id
from vward.config import Settings


@pytest.fixture
def coordinator(clean_db: psycopg.Connection, settings: Settings) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "coordinator") as client:
        yield client


def test_full_ward_refuses_admission_naming_free_wards(clean_db: psycopg.Connection, coordinator: TestClient) -> None:
    oncology = ward_id(clean_db, "oncology")
    assert coordinator.post(f"/api/wards/{oncology}/capacity", json={"beds": 1}).status_code == 200
    assert coordinator.post("/api/admissions", json=admit_body(clean_db, 1, "oncology")).status_code == 201
    r = coordinator.post("/api/admissions", json=admit_body(clean_db, 2, "oncology"))
    assert r.status_code == 409
    assert "Acute oncology virtual ward is full (1 of 1 beds)" in r.json()["detail"]
    detail = r.json()["detail"]
    assert "Wards with free beds for this age group: " in detail and "Frailty virtual ward (34 free)" in detail
    # the same capacity check guards transfers
    other = coordinator.post("/api/admissions", json=admit_body(clean_db, 3, "frailty")).json()
    r = coordinator.post(f"/api/admissions/{other['admission_id']}/transfer", json={"to_ward_id": oncology})
    assert r.status_code == 409 and "is full" in r.json()["detail"]


def test_full_ward_offers_its_pathway_first_and_only_wards_of_the_patients_age_group(
    clean_db: psycopg.Connection, coordinator: TestClient
) -> None:
    covid = ward_id(clean_db, "covid-oxi")
    assert coordinator.post(f"/api/wards/{covid}/capacity", json={"beds": 1}).status_code == 200
    assert coordinator.post("/api/admissions", json=admit_body(clean_db, 11, "covid-oxi")).status_code == 201
    detail = coordinator.post("/api/admissions", json=admit_body(clean_db, 12, "covid-oxi")).json()["detail"]
    offered = detail.split("Wards with free beds for this age group: ")[1].split("; ")
    assert offered[:2] == [
        "Acute respiratory infection virtual ward (22 free, same pathway)",
        "Respiratory (COPD) virtual ward (40 free, same pathway)",
    ]
    assert "Frailty virtual ward (34 free)" in offered and "Children's virtual ward" not in detail

    children = ward_id(clean_db, "paediatric")
    assert coordinator.post(f"/api/wards/{children}/capacity", json={"beds": 1}).status_code == 200
    child = {"date_of_birth": "2020-03-04"}
    assert coordinator.post("/api/admissions", json=admit_body(clean_db, 13, "paediatric", **child)).status_code == 201
    r = coordinator.post("/api/admissions", json=admit_body(clean_db, 14, "paediatric", **child))
    assert r.status_code == 409
    assert r.json()["detail"].endswith("Wards with free beds for children: none: every such ward is full")


def test_beds_cannot_be_cut_below_the_patients_on_the_ward(
    clean_db: psycopg.Connection, coordinator: TestClient
) -> None:
    oncology = ward_id(clean_db, "oncology")
    for n in (21, 22):
        assert coordinator.post("/api/admissions", json=admit_body(clean_db, n, "oncology")).status_code == 201
    r = coordinator.post(f"/api/wards/{oncology}/capacity", json={"beds": 1})
    assert r.status_code == 409
    assert r.json()["detail"] == (
        "1 beds is fewer than the 2 patients on this ward (Ada Test21, Ada Test22);"
        " discharge or transfer patients first"
    )
    assert clean_db.execute("SELECT bed_capacity FROM wards WHERE id = %s", (oncology,)).fetchone() == (10,)
    assert coordinator.post(f"/api/wards/{oncology}/capacity", json={"beds": 2}).status_code == 200


def test_readmission_within_30_days_is_flagged(clean_db: psycopg.Connection, coordinator: TestClient) -> None:
    first = coordinator.post("/api/admissions", json=admit_body(clean_db, 4)).json()
    assert first["readmission"] is False
    assert (
        coordinator.post(
            f"/api/admissions/{first['admission_id']}/discharge", json={"outcome": "recovered_at_home"}
        ).status_code
        == 200
    )
    again = coordinator.post("/api/admissions", json=admit_body(clean_db, 4)).json()
    assert again["readmission"] is True and again["readmission_of"] == first["admission_id"]
    page = coordinator.get(f"/patients/{again['admission_id']}", headers={"Accept": "text/html"})
    assert 'id="readmission-flag"' in page.text


def test_readmission_with_other_details_shows_both_and_asks_which_is_right(
    clean_db: psycopg.Connection, coordinator: TestClient
) -> None:
    first = coordinator.post("/api/admissions", json=admit_body(clean_db, 31)).json()
    discharge = {"outcome": "recovered_at_home"}
    assert coordinator.post(f"/api/admissions/{first['admission_id']}/discharge", json=discharge).status_code == 200
    other = admit_body(clean_db, 31, family_name="Tester", date_of_birth="1940-03-02")
    r = coordinator.post("/api/admissions", json=other)
    assert r.status_code == 409
    assert "on record as Ada Test31, born 1940-02-03; you entered Ada Tester, born 1940-03-02" in r.json()["detail"]

    kept = coordinator.post("/api/admissions", json={**other, "demographics": "keep", "sex": "female"})
    assert kept.status_code == 201
    names = "SELECT family_name, date_of_birth::text FROM patients WHERE id = %s"
    assert clean_db.execute(names, (first["patient_id"],)).fetchone() == ("Test31", "1940-02-03")
    page = coordinator.get(f"/patients/{kept.json()['admission_id']}", headers={"Accept": "text/html"}).text
    assert "born 1940-02-03 · female ·" in page  # a sex not recorded before is filled in
    assert (
        coordinator.post(f"/api/admissions/{kept.json()['admission_id']}/discharge", json=discharge).status_code == 200
    )

    updated = coordinator.post("/api/admissions", json={**other, "demographics": "update"})
    assert updated.status_code == 201 and updated.json()["patient_id"] == first["patient_id"]
    assert clean_db.execute(names, (first["patient_id"],)).fetchone() == ("Tester", "1940-03-02")
    audited = clean_db.execute("SELECT detail FROM audit_log WHERE action = 'patient.update_demographics'").fetchone()
    assert audited is not None and audited[0]["from"] == ["Ada", "Test31", "1940-02-03"]


def test_scale_2_is_set_on_the_patient_page_with_who_and_why(
    clean_db: psycopg.Connection, settings: Settings, coordinator: TestClient
) -> None:
    admission = coordinator.post("/api/admissions", json=admit_body(clean_db, 41)).json()["admission_id"]
    url = f"/api/admissions/{admission}/spo2-scale"
    with app_client(settings) as nurse:
        nurse.headers["X-CSRF-Token"] = sign_in(nurse, "nurse.community")
        refused = nurse.post(url, json={"scale": 2})
        assert refused.status_code == 422 and "needs the clinical reason" in refused.json()["detail"]
        assert nurse.post(url, json={"scale": 2, "reason": "CO2 retainer, ABG 12 Nov"}).status_code == 200
        page = nurse.get(f"/patients/{admission}", headers={"Accept": "text/html"}).text
        assert "SpO2 scale 2 — set by Sam Okafor (community nurse): CO2 retainer, ABG 12 Nov" in page
        back = nurse.post(
            url, data={"scale": "1", "reason": ""}, headers={"Accept": "text/html"}, follow_redirects=False
        )
        assert back.status_code == 303 and back.headers["location"] == f"/patients/{admission}"
    row = "SELECT spo2_scale, spo2_scale_reason FROM admissions WHERE id = %s"
    assert clean_db.execute(row, (admission,)).fetchone() == (1, None)
    changes = clean_db.execute("SELECT detail FROM audit_log WHERE action = 'admission.spo2_scale' ORDER BY id")
    assert [(d[0]["from"], d[0]["to"]) for d in changes] == [(1, 2), (2, 1)]


def test_discharge_unassigns_devices(clean_db: psycopg.Connection, settings: Settings, coordinator: TestClient) -> None:
    with app_client(settings) as admin:
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        issued = admin.post("/api/devices", json={"id": "ox-test-1", "kind": "pulse_oximeter", "serial": "S1"})
        assert issued.status_code == 201 and len(issued.json()["mqtt_password"]) >= 24
    stored = clean_db.execute("SELECT mqtt_password_hash FROM devices WHERE id = 'ox-test-1'").fetchone()[0]
    assert stored.startswith("$7$") and issued.json()["mqtt_password"] not in stored
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 5, device_ids=["ox-test-1"])).json()
    assert clean_db.execute("SELECT admission_id FROM devices").fetchone()[0] == adm["admission_id"]
    r = coordinator.post(f"/api/admissions/{adm['admission_id']}/discharge", json={"outcome": "other"})
    assert r.json()["devices_unassigned"] == ["ox-test-1"]
    assert clean_db.execute("SELECT admission_id FROM devices").fetchone()[0] is None


def test_utilisation_history_uses_the_capacity_of_each_day(
    clean_db: psycopg.Connection, coordinator: TestClient
) -> None:
    frailty = ward_id(clean_db, "frailty")
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 7, "frailty")).json()["admission_id"]
    clean_db.execute("UPDATE admissions SET admitted_at = now() - interval '3 days' WHERE id = %s", (adm,))
    before = coordinator.get("/api/capacity").json()
    beds = before["total"]["capacity"]
    # cut to the one bed its patient holds (never below the patients on the ward)
    assert coordinator.post(f"/api/wards/{frailty}/capacity", json={"beds": 1}).status_code == 200
    after = coordinator.get("/api/capacity").json()
    assert after["total"]["capacity"] == beds - 33  # the frailty ward's seeded 34 beds
    yesterday, today = after["history_90d"][-2:]
    assert yesterday["utilisation"] == round(1 / beds, 4)  # still against yesterday's beds
    assert today["utilisation"] == round(1 / (beds - 33), 4)
    assert after["history_90d"][:-1] == before["history_90d"][:-1]
    changes = clean_db.execute(
        "SELECT beds FROM ward_capacity_changes WHERE ward_id = %s ORDER BY changed_at", (frailty,)
    )
    assert [r[0] for r in changes] == [34, 1]


def test_discharge_closes_the_open_alert_so_it_stops_escalating(
    clean_db: psycopg.Connection, settings: Settings, coordinator: TestClient
) -> None:
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 6)).json()["admission_id"]
    now = datetime.now(UTC)
    record_scores(clean_db, [scored(adm, 8, "high", now)], settings=settings, now=now)
    alert_id = clean_db.execute("SELECT id FROM alerts WHERE admission_id = %s", (adm,)).fetchone()[0]

    r = coordinator.post(f"/api/admissions/{adm}/discharge", json={"outcome": "conveyed_to_hospital"})
    assert r.status_code == 200 and r.json()["alert_closed"] == alert_id
    coordinator_id = clean_db.execute("SELECT discharged_by FROM admissions WHERE id = %s", (adm,)).fetchone()[0]
    assert clean_db.execute("SELECT status, resolved_by FROM alerts").fetchone() == ("resolved", coordinator_id)
    assert events(clean_db, alert_id) == ["raised", "closed_on_discharge"]
    detail = clean_db.execute("SELECT detail FROM audit_log WHERE action = 'admission.discharge'").fetchone()[0]
    assert detail["alert_closed"] == alert_id
    with psycopg.connect(settings.database_url, autocommit=True) as hub_conn:  # its targets long past
        assert run_clocks(hub_conn, settings=settings, now=now + timedelta(hours=5)) == 0


def test_scale_2_records_who_and_why_and_actions_are_audited(
    clean_db: psycopg.Connection, coordinator: TestClient
) -> None:
    adm = coordinator.post(
        "/api/admissions", json=admit_body(clean_db, 6, spo2_scale=2, spo2_scale_reason="Hypercapnic failure on ABG")
    ).json()
    row = clean_db.execute(
        "SELECT spo2_scale, u.username, spo2_scale_reason FROM admissions a"
        " JOIN users u ON u.id = a.spo2_scale_set_by WHERE a.id = %s",
        (adm["admission_id"],),
    ).fetchone()
    assert row == (2, "coordinator", "Hypercapnic failure on ABG")
    assert coordinator.get(f"/api/patients/{adm['admission_id']}").status_code == 200
    actions = {
        r[0]
        for r in clean_db.execute(
            "SELECT action FROM audit_log WHERE detail->>'patient_id' = %s OR (entity = 'patient' AND entity_id = %s)",
            (str(adm["patient_id"]), str(adm["patient_id"])),
        )
    }
    assert {"admission.admit", "admission.spo2_scale", "patient.view"} <= actions


def test_admin_audit_search(clean_db: psycopg.Connection, settings: Settings, coordinator: TestClient) -> None:
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 7)).json()
    coordinator.get(f"/api/patients/{adm['admission_id']}")
    with app_client(settings) as admin:
        sign_in(admin, "admin")
        rows = admin.get("/api/audit", params={"patient_id": adm["patient_id"], "username": "coordinator"}).json()
        assert [r["action"] for r in rows] == ["patient.view", "admission.admit"]
        assert admin.get("/api/audit", params={"action": "patient.view", "day_from": "2000-01-01"}).json()
        assert admin.get("/api/audit", params={"day_to": "2000-01-01"}).json() == []
        assert admin.get("/api/audit", params={"patient_id": "abc"}).status_code == 422


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"nhs_number": "9434765918"}, "check digit"),
        ({"nhs_number": "12345"}, "ten digits"),
        ({"spo2_scale": 2}, "needs the clinical reason"),
        ({"source": "sideways"}, "source"),
        ({"date_of_birth": "not-a-date"}, "date_of_birth"),
        ({"ward_id": 99999}, "no ward 99999"),
    ],
)
def test_bad_admissions_are_4xx_with_a_message(
    clean_db: psycopg.Connection,
    coordinator: TestClient,
    change: dict[str, object],
    fragment: str,
) -> None:
    r = coordinator.post("/api/admissions", json={**admit_body(clean_db, 8), **change})
    assert 400 <= r.status_code < 500 and fragment in r.json()["detail"]


def test_malformed_requests_are_4xx(clean_db: psycopg.Connection, coordinator: TestClient) -> None:
    bad_json = coordinator.post("/api/admissions", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["detail"]  # malformed, not invalid
    assert coordinator.post("/api/admissions", json=[1, 2]).status_code == 422
    assert coordinator.get("/api/patients/abc").status_code == 422
    assert coordinator.get("/api/patients/424242").status_code == 404
    assert coordinator.post("/api/admissions/424242/discharge", json={"outcome": "died"}).status_code == 404
    assert coordinator.post("/api/admissions/1/discharge", json={"outcome": "vanished"}).status_code == 422
    html = coordinator.post("/api/admissions", data={"nhs_number": "1"}, headers={"Accept": "text/html"})
    assert html.status_code == 422 and 'id="error-message"' in html.text
