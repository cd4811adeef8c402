"""The issue's reproductions: NUL and control characters, nested and oversized bodies, out-of-range dates,
loose types, unknown wards and the last admin; each is a 4xx with a message, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.integration.ui_helpers import admit_body, app_client, seed_users, sign_in
from vward.config import Settings

NUL = "a\u0000b"
STRONG = "heron kettle autumn lamp"
Case = tuple[str, str, str, dict[str, Any]]  # (role, path, field, JSON body)


@pytest.fixture
def clients(clean_db: psycopg.Connection, settings: Settings) -> Iterator[dict[str, TestClient]]:
    """Signed-in clients for the coordinator, the respiratory nurse and the admin, plus a signed-out one."""
    seed_users(clean_db)
    with (
        app_client(settings) as coordinator,
        app_client(settings) as nurse,
        app_client(settings) as admin,
        app_client(settings) as anonymous,
    ):
        for client, name in ((coordinator, "coordinator"), (nurse, "nurse.resp"), (admin, "admin")):
            client.headers["X-CSRF-Token"] = sign_in(client, name)
        anonymous.headers["X-CSRF-Token"] = anonymous.get("/api/csrf").json()["csrf"]
        yield {"coordinator": coordinator, "nurse": nurse, "admin": admin, "anonymous": anonymous}


def _nul_cases(conn: psycopg.Connection, admission_id: int, alert_id: int) -> list[Case]:
    """(role, path, field, JSON body) for every text field of every JSON body."""
    admit = admit_body(conn, 77)
    user = {"username": "new.user", "display_name": "New", "role": "nurse", "password": STRONG}
    device = {"id": "dev-nul-1", "kind": "thermometer", "serial": "S1"}
    push = {"endpoint": "https://push.example/1", "keys": {"p256dh": "p" * 20, "auth": "a" * 10}}
    cases: list[Case] = [
        ("anonymous", "/signin", "username", {"username": NUL, "password": "x"}),
        ("anonymous", "/signin", "password", {"username": "admin", "password": NUL}),
        ("coordinator", f"/api/alerts/{alert_id}/actions", "note", {"action": "note", "note": NUL}),
        (
            "coordinator",
            f"/api/alerts/{alert_id}/actions",
            "snooze_reason",
            {"action": "snooze", "snooze_minutes": 5, "snooze_reason": NUL},
        ),
        ("coordinator", f"/api/admissions/{admission_id}/discharge", "outcome", {"outcome": NUL}),
        ("nurse", "/api/push/subscriptions", "endpoint", {**push, "endpoint": "https://a/" + NUL}),
        ("nurse", "/api/push/subscriptions", "auth", {**push, "keys": {"p256dh": "p" * 20, "auth": NUL * 5}}),
        ("nurse", "/api/me/password", "current_password", {"current_password": NUL, "new_password": STRONG}),
        ("admin", "/api/devices", "id", {**device, "id": NUL}),
        ("admin", "/api/devices", "serial", {**device, "serial": NUL}),
        ("admin", "/api/signin-locks/unlock", "key", {"scope": "account", "key": NUL}),
    ]
    for field in ("nhs_number", "given_name", "family_name", "source", "spo2_scale_reason"):
        cases.append(("coordinator", "/api/admissions", field, {**admit, field: NUL}))
    cases.append(("coordinator", "/api/admissions", "device_ids", {**admit, "device_ids": [NUL]}))
    for field in ("username", "display_name", "role", "password"):
        cases.append(("admin", "/api/users", field, {**user, field: NUL}))
    return cases


def test_nul_in_every_text_field_is_a_422_naming_the_field(
    clean_db: psycopg.Connection, clients: dict[str, TestClient]
) -> None:
    adm = clients["coordinator"].post("/api/admissions", json=admit_body(clean_db, 5)).json()["admission_id"]
    clients["coordinator"].post(f"/api/patients/{adm}/observations", json={"rr": 30, "spo2": 85, "hr": 135})
    alert = clean_db.execute("SELECT coalesce(max(id), 1) FROM alerts").fetchone()[0]  # type: ignore[index]
    for role, path, field, body in _nul_cases(clean_db, adm, alert):
        r = clients[role].post(path, json=body)
        assert r.status_code == 422, (path, field, r.text)
        assert field in r.json()["detail"] and "control characters" in r.json()["detail"], (path, field, r.text)


def test_nul_in_forms_query_strings_and_paths_is_a_422(clients: dict[str, TestClient]) -> None:
    anon, admin = clients["anonymous"], clients["admin"]
    token = anon.headers["X-CSRF-Token"]
    form = anon.post("/signin", data={"username": NUL, "password": "x", "csrf_token": token})
    assert form.status_code == 422 and "username" in form.json()["detail"]
    for path in ("/api/audit", "/admin/audit"):
        for field in ("username", "action"):
            r = admin.get(path, params={field: NUL})
            assert r.status_code == 422 and field in r.json()["detail"], (path, field, r.text)
    r = admin.post("/api/devices/a%00b/rotate")
    assert r.status_code == 422 and "device_id" in r.json()["detail"]
    huge = "9" * 5000
    assert admin.get(f"/api/audit?patient_id={huge}").status_code == 422
    assert admin.post(f"/api/users/{huge}/active", json={"active": True}).status_code == 422
    assert admin.post("/api/users/99999999999999999999/active", json={"active": True}).status_code in (404, 422)


def test_nested_and_oversized_bodies_before_sign_in_are_4xx(clients: dict[str, TestClient], settings: Settings) -> None:
    anon = clients["anonymous"]
    nested = anon.post("/signin", content=b"[" * 50_000, headers={"Content-Type": "application/json"})
    assert nested.status_code == 400 and "nested" in nested.json()["detail"]
    forged = anon.post("/signin", content=b"[" * 50_000, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    big = anon.post("/signin", content=b"x" * (settings.web_max_body_bytes + 1))
    assert big.status_code == 413
    for odd in (b'{"username": NaN}', b'{"rr": 1e400}', b'{"rr": ' + b"1" * 5000 + b"}", b'{"a": "\xff"}'):
        r = anon.post("/signin", content=odd, headers={"Content-Type": "application/json", **anon.headers})
        assert r.status_code == 400, (odd[:20], r.text)
    chunks = (b"x" * 1024 for _ in range(settings.web_max_body_bytes // 1024 + 1))  # no Content-Length
    streamed = anon.post("/signin", content=chunks, headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert big.headers["X-Content-Type-Options"] == "nosniff"


def test_dates_out_of_range_are_a_422(clean_db: psycopg.Connection, clients: dict[str, TestClient]) -> None:
    admin, coordinator = clients["admin"], clients["coordinator"]
    for query in ("day_to=9999-12-31", "day_from=0001-01-01", "day_to=2026-02-30"):
        r = admin.get(f"/api/audit?{query}")
        assert r.status_code == 422 and "day_" in r.json()["detail"], query
    assert admin.get("/api/audit?day_from=2026-01-01&day_to=2026-12-31").status_code == 200
    old = coordinator.post("/api/admissions", json=admit_body(clean_db, 6, date_of_birth="0001-01-01"))
    assert old.status_code == 422 and "date_of_birth" in old.json()["detail"]
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 7)).json()["admission_id"]
    far = coordinator.post(f"/api/patients/{adm}/observations", json={"rr": 18, "measured_at": "9999-12-31T00:00:00Z"})
    assert far.status_code == 422 and "measured_at" in far.json()["detail"]


def test_a_bool_is_not_a_number_but_a_form_still_posts_numbers(
    clean_db: psycopg.Connection, clients: dict[str, TestClient]
) -> None:
    coordinator = clients["coordinator"]
    adm = coordinator.post("/api/admissions", json=admit_body(clean_db, 8)).json()["admission_id"]
    for body in ({"rr": True}, {"rr": "18"}, {"on_oxygen": 1}, {"rr": 18, "unknown": 1}):
        r = coordinator.post(f"/api/patients/{adm}/observations", json=body)
        assert r.status_code == 422, (body, r.text)
    assert clean_db.execute("SELECT count(*) FROM readings").fetchone()[0] == 0  # type: ignore[index]
    token = coordinator.headers["X-CSRF-Token"]
    form = {"rr": "18", "spo2": "97", "on_oxygen": "false", "consciousness": "A", "csrf_token": token}
    r = coordinator.post(f"/api/patients/{adm}/observations", data=form, follow_redirects=False)
    assert r.status_code == 201, r.text
    row = clean_db.execute("SELECT rr, spo2, on_oxygen FROM readings").fetchone()
    assert row == (18, 97, False)
    bad_form = coordinator.post(f"/api/patients/{adm}/observations", data={"rr": "lots", "csrf_token": token})
    assert bad_form.status_code == 422 and "rr" in bad_form.json()["detail"]


def test_unknown_wards_are_a_422_and_weak_passwords_are_refused(clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    user = {"username": "new.nurse", "display_name": "New", "role": "nurse", "password": STRONG}
    r = admin.post("/api/users", json={**user, "ward_ids": [1, 999]})
    assert r.status_code == 422 and "999" in r.json()["detail"]
    for weak in ("password1234", "Welcome123!!", "short"):
        r = admin.post("/api/users", json={**user, "password": weak})
        assert r.status_code == 422 and "password" in r.json()["detail"], weak
    assert admin.post("/api/users", json={**user, "ward_ids": [1]}).status_code == 201


def test_the_last_active_admin_cannot_be_deactivated(clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    me = admin.get("/api/me").json()["id"]
    r = admin.post(f"/api/users/{me}/active", json={"active": False})
    assert r.status_code == 409 and "last active admin" in r.json()["detail"]
    other = admin.post(
        "/api/users", json={"username": "admin.two", "display_name": "Two", "role": "admin", "password": STRONG}
    ).json()["id"]
    assert admin.post(f"/api/users/{other}/active", json={"active": False}).status_code == 200
    assert admin.post(f"/api/users/{me}/active", json={"active": False}).status_code == 409
    assert admin.post(f"/api/users/{other}/active", json={"active": True}).status_code == 200
    assert admin.post(f"/api/users/{me}/active", json={"active": False}).status_code == 200


def test_the_admin_html_forms_go_through_the_same_models(
    clean_db: psycopg.Connection, clients: dict[str, TestClient]
) -> None:
    admin = clients["admin"]
    html = {"Accept": "text/html"}
    blank = admin.get("/admin/audit?username=&patient_id=&action=&day_from=&day_to=", headers=html)
    assert blank.status_code == 200
    token = admin.headers["X-CSRF-Token"]
    form = [
        ("csrf_token", token),
        ("username", "form.nurse"),
        ("display_name", "Form Nurse"),
        ("role", "nurse"),
        ("password", STRONG),
        ("ward_ids", "1"),
        ("ward_ids", "2"),
    ]
    body = "&".join(f"{k}={v.replace(' ', '+')}" for k, v in form)
    r = admin.post(
        "/api/users",
        content=body,
        headers={**html, "Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    wards = clean_db.execute(
        "SELECT array_agg(ward_id ORDER BY ward_id) FROM user_wards JOIN users u ON u.id = user_id"
        " WHERE u.username = 'form.nurse'"
    ).fetchone()[0]  # type: ignore[index]
    assert wards == [1, 2]
    weak = admin.post(
        "/api/users",
        data={"csrf_token": token, "username": "x.y", "display_name": "X", "role": "nurse", "password": "password"},
        headers=html,
    )
    assert weak.status_code == 422 and "password" in weak.text
