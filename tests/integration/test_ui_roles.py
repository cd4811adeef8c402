"""Who may do what: each role on each endpoint, allowed and refused; sign-in, sign-out and CSRF."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.ui_helpers import app_client, seed_users, sign_in
from vward.config import Settings

# (method, path, {role: expected status}). POST bodies are empty: allowed roles reach validation (422).
TABLE = [
    ("GET", "/api/alerts", {"nurse.resp": 200, "coordinator": 200, "admin": 403}),
    ("GET", "/api/capacity", {"nurse.resp": 200, "coordinator": 200, "admin": 200}),
    ("GET", "/api/users", {"nurse.resp": 403, "coordinator": 403, "admin": 200}),
    ("GET", "/api/devices", {"nurse.resp": 403, "coordinator": 403, "admin": 200}),
    ("GET", "/api/audit", {"nurse.resp": 403, "coordinator": 403, "admin": 200}),
    ("POST", "/api/admissions", {"nurse.resp": 403, "coordinator": 422, "admin": 403}),
    ("POST", "/api/admissions/1/transfer", {"nurse.resp": 403, "coordinator": 422, "admin": 403}),
    ("POST", "/api/admissions/1/discharge", {"nurse.resp": 403, "coordinator": 422, "admin": 403}),
    ("POST", "/api/wards/1/capacity", {"nurse.resp": 403, "coordinator": 422, "admin": 403}),
    ("POST", "/api/alerts/1/actions", {"nurse.resp": 422, "coordinator": 422, "admin": 403}),
    ("POST", "/api/patients/1/observations", {"nurse.resp": 404, "coordinator": 404, "admin": 403}),
    ("POST", "/api/users", {"nurse.resp": 403, "coordinator": 403, "admin": 422}),
    ("POST", "/api/devices", {"nurse.resp": 403, "coordinator": 403, "admin": 422}),
    ("POST", "/api/devices/x/assign", {"nurse.resp": 403, "coordinator": 403, "admin": 404}),
    ("POST", "/api/push/subscriptions", {"nurse.resp": 422, "coordinator": 422, "admin": 403}),
]
CASES = [(role, m, p, want) for m, p, table in TABLE for role, want in table.items()]


@pytest.mark.parametrize(("role", "method", "path", "want"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_role_table(
    clean_db: psycopg.Connection, settings: Settings, role: str, method: str, path: str, want: int
) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        csrf = sign_in(client, role)
        r = client.request(method, path, headers={"X-CSRF-Token": csrf}, **({"json": {}} if method == "POST" else {}))
        assert r.status_code == want, r.text
        assert "detail" in r.json() or r.status_code == 200


def test_signed_out_api_is_401_and_pages_redirect(clean_db: psycopg.Connection, settings: Settings) -> None:
    with app_client(settings) as client:
        assert client.get("/api/alerts").status_code == 401
        page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")


def test_wrong_password_is_refused_and_audited(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        token = client.get("/api/csrf").json()["csrf"]
        r = client.post(
            "/signin", json={"username": "coordinator", "password": "nope"}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 401
    assert clean_db.execute("SELECT count(*) FROM audit_log WHERE action = 'auth.signin_failed'").fetchone()[0] == 1


def test_session_cookie_flags(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        r = client.get("/api/csrf")
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie


def test_csrf_is_required_on_posts(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        csrf = sign_in(client, "coordinator")
        assert client.post("/api/wards/1/capacity", json={"beds": 5}).status_code == 403
        assert (
            client.post("/api/wards/1/capacity", json={"beds": 5}, headers={"X-CSRF-Token": "forged"}).status_code
            == 403
        )
        assert client.post("/api/wards/1/capacity", data={"beds": "5"}).status_code == 403
        assert client.post("/api/wards/1/capacity", data={"beds": "5", "csrf_token": csrf}).status_code == 200
    assert clean_db.execute("SELECT bed_capacity FROM wards WHERE id = 1").fetchone()[0] == 5


def test_sign_out_ends_the_session(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        csrf = sign_in(client, "nurse.resp")
        assert client.get("/api/alerts").status_code == 200
        client.post("/signout", headers={"X-CSRF-Token": csrf}, json={}, follow_redirects=False)
        assert client.get("/api/alerts").status_code == 401


def test_deactivated_user_is_out_at_once(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as nurse, app_client(settings) as admin:
        sign_in(nurse, "nurse.resp")
        csrf = sign_in(admin, "admin")
        uid = clean_db.execute("SELECT id FROM users WHERE username = 'nurse.resp'").fetchone()[0]
        assert (
            admin.post(f"/api/users/{uid}/active", json={"active": False}, headers={"X-CSRF-Token": csrf}).status_code
            == 200
        )
        assert nurse.get("/api/alerts").status_code == 401


def test_healthz(clean_db: psycopg.Connection, settings: Settings) -> None:
    for component in ("ingest", "hub"):  # the alert path's processes are alive (tests/integration/test_alert_health.py)
        clean_db.execute("INSERT INTO heartbeats (component, instance, beat_at) VALUES (%s, 'x', now())", (component,))
    with app_client(settings) as client:
        assert client.get("/healthz").json()["status"] == "ok"
