"""The hub: hand-entered obs raise an alert through the real ingest path; queue, actions, ward scoping."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from tests.integration.ui_helpers import admit_body, app_client, sign_in, signed_in
from vward.config import Settings

DETERIORATING = {
    "rr": 30,
    "spo2": 85,
    "on_oxygen": True,
    "sbp": 88,
    "dbp": 50,
    "hr": 135,
    "temp": 39.4,
    "consciousness": "V",
}


@pytest.fixture
def coordinator(clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "coordinator") as client:
        yield client


def test_manual_obs_raise_an_alert_that_is_worked_to_resolution(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, coordinator: TestClient
) -> None:
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 11)).json()
    r = coordinator.post(f"/api/patients/{adm['admission_id']}/observations", json=DETERIORATING)
    assert r.status_code == 201, r.text
    reading = clean_db.execute("SELECT device_id, news2_total, news2_complete, news2_risk FROM readings").fetchone()
    assert reading[0].startswith("manual-u") and reading[1] >= 7 and reading[2] is True and reading[3] == "high"

    queue = coordinator.get("/api/alerts").json()
    assert len(queue) == 1
    alert = queue[0]
    assert alert["risk"] == "high" and alert["status"] == "raised" and alert["target"] == "acknowledge"
    assert [label for label, _ in alert["subs"]][:2] == ["RR", "SpO2"]
    entries = redis_client.xrange(settings.alert_stream)
    assert entries and entries[-1][1][b"alert_id"] == str(alert["id"]).encode()  # published after commit

    act = f"/api/alerts/{alert['id']}/actions"
    assert coordinator.post(act, json={"action": "acknowledge"}).json()["status"] == "acknowledged"
    again = coordinator.post(act, json={"action": "acknowledge"})
    assert again.status_code == 409 and again.json()["detail"]
    assert coordinator.post(act, json={"action": "note", "note": "Rang patient, drowsy"}).status_code == 200
    assert coordinator.post(act, json={"action": "respond", "response_kind": "sofa"}).status_code == 422
    assert coordinator.post(act, json={"action": "respond", "response_kind": "home_visit"}).status_code == 200
    assert coordinator.post(act, json={"action": "resolve"}).json()["status"] == "resolved"
    assert coordinator.get("/api/alerts").json() == []
    record = coordinator.get(f"/api/patients/{adm['admission_id']}").json()
    assert record["notes"][0]["body"] == "Rang patient, drowsy"
    assert record["alerts"][0]["response_kind"] == "home_visit"


def test_snooze_needs_a_reason_and_shows_in_the_queue(clean_db: psycopg.Connection, coordinator: TestClient) -> None:
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 12)).json()
    coordinator.post(f"/api/patients/{adm['admission_id']}/observations", json=DETERIORATING)
    alert_id = coordinator.get("/api/alerts").json()[0]["id"]
    act = f"/api/alerts/{alert_id}/actions"
    assert (
        coordinator.post(act, json={"action": "snooze", "snooze_minutes": 30, "snooze_reason": "x"}).status_code == 409
    )  # a raised alert must be acknowledged first
    coordinator.post(act, json={"action": "acknowledge"})
    assert coordinator.post(act, json={"action": "snooze", "snooze_minutes": 30}).status_code in (400, 409, 422)
    ok = coordinator.post(act, json={"action": "snooze", "snooze_minutes": 30, "snooze_reason": "GP visiting"})
    assert ok.status_code == 200, ok.text
    row = coordinator.get("/api/alerts").json()[0]
    assert row["snoozed"] is True and row["snooze_reason"] == "GP visiting"
    page = coordinator.get("/", headers={"Accept": "text/html"})
    assert "snoozed until" in page.text and "GP visiting" in page.text


def test_nurse_sees_only_her_wards(clean_db: psycopg.Connection, settings: Settings, coordinator: TestClient) -> None:
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 13, "frailty")).json()
    coordinator.post(f"/api/patients/{adm['admission_id']}/observations", json=DETERIORATING)
    alert_id = coordinator.get("/api/alerts").json()[0]["id"]
    with app_client(settings) as nurse:
        nurse.headers["X-CSRF-Token"] = sign_in(nurse, "nurse.resp")
        assert nurse.get("/api/alerts").json() == []
        assert nurse.get(f"/api/alerts/{alert_id}").status_code == 404
        assert nurse.post(f"/api/alerts/{alert_id}/actions", json={"action": "acknowledge"}).status_code == 404
        assert nurse.get(f"/api/patients/{adm['admission_id']}").status_code == 404
        with app_client(settings) as community:
            community.headers["X-CSRF-Token"] = sign_in(community, "nurse.community")
            assert [a["id"] for a in community.get("/api/alerts").json()] == [alert_id]


@pytest.mark.parametrize(
    ("obs", "fragment"),
    [
        ({"spo2": 20}, "spo2"),
        ({"sbp": 80, "dbp": 90}, "diastolic"),
        ({}, "at least one vital sign"),
        ({"hr": "fast"}, "hr"),
        ({"hr": 80, "measured_at": "2099-01-01T00:00:00Z"}, "future"),
    ],
)
def test_implausible_obs_are_422(
    clean_db: psycopg.Connection, coordinator: TestClient, obs: dict[str, object], fragment: str
) -> None:
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 14)).json()
    r = coordinator.post(f"/api/patients/{adm['admission_id']}/observations", json=obs)
    assert r.status_code == 422 and fragment in r.json()["detail"]
    assert clean_db.execute("SELECT count(*) FROM readings").fetchone()[0] == 0


def test_push_subscription_is_stored(clean_db: psycopg.Connection, coordinator: TestClient) -> None:
    sub = {"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": {"p256dh": "B" * 87, "auth": "a" * 22}}
    assert coordinator.post("/api/push/subscriptions", json=sub).status_code == 201
    assert coordinator.post("/api/push/subscriptions", json=sub).status_code == 201  # idempotent
    assert clean_db.execute("SELECT count(*) FROM push_subscriptions").fetchone()[0] == 1


def test_an_incomplete_sets_total_is_shown_as_a_floor(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, coordinator: TestClient
) -> None:
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 12)).json()
    partial = {"rr": 26, "spo2": 90, "on_oxygen": False}  # 3 + 3 + 0, the rest not measured
    assert coordinator.post(f"/api/patients/{adm['admission_id']}/observations", json=partial).status_code == 201
    alert = coordinator.get("/api/alerts").json()[0]
    assert (alert["news2_total"], alert["news2_complete"], alert["risk"]) == (6, False, "medium")
    page = coordinator.get("/").text
    assert "≥&nbsp;6" in page and "incomplete" in page
