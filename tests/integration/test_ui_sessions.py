"""Server-side sessions: sign-out, deactivation, password change and admins revoke; idle and absolute expiry."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.integration.ui_helpers import app_client, seed_users, session_cookie, sign_in, use_clock
from vward.config import Settings
from vward.seed import DEMO_PASSWORD


def _audited(conn: psycopg.Connection, action: str) -> int:
    return int(conn.execute("SELECT count(*) FROM audit_log WHERE action = %s", (action,)).fetchone()[0])  # type: ignore[index]


def _replay(client: TestClient, cookie: str, csrf: str) -> tuple[int, int]:
    """GET /api/me and a POST with a copied cookie and its CSRF token, from a client that never signed out."""
    client.cookies.clear()
    client.cookies.set("vward_session", cookie)
    me = client.get("/api/me").status_code
    post = client.post("/api/patients/1/observations", json={"rr": 18}, headers={"X-CSRF-Token": csrf}).status_code
    return me, post


def test_replaying_a_cookie_after_sign_out_is_401(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        csrf = sign_in(client, "coordinator")
        cookie = session_cookie(client)
        assert client.get("/api/me").status_code == 200
        r = client.post("/signout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert session_cookie(client) != cookie  # a fresh anonymous id
        assert _replay(client, cookie, csrf) == (401, 401)
    assert _audited(clean_db, "auth.signout") == 1


def test_every_sign_in_gets_a_new_session_id(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        client.get("/api/csrf")
        anonymous = session_cookie(client)
        csrf = sign_in(client, "coordinator")
        first = session_cookie(client)
        sign_in(client, "coordinator")
        second = session_cookie(client)
        assert len({anonymous, first, second}) == 3
        assert client.get("/api/me").status_code == 200
        assert _replay(client, first, csrf) == (401, 401)  # the replaced session ended


def test_deactivating_a_user_ends_their_open_sessions(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as nurse, app_client(settings) as admin:
        sign_in(nurse, "nurse.resp")
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        nurse_id = nurse.get("/api/me").json()["id"]
        assert admin.post(f"/api/users/{nurse_id}/active", json={"active": False}).status_code == 200
        assert nurse.get("/api/me").status_code == 401
        assert admin.post(f"/api/users/{nurse_id}/active", json={"active": True}).status_code == 200
        assert nurse.get("/api/me").status_code == 401  # reactivation does not bring old sessions back
    detail = clean_db.execute("SELECT detail FROM audit_log WHERE action = 'user.deactivate'").fetchone()[0]  # type: ignore[index]
    assert detail == {"sessions_ended": 1}


def test_a_password_change_ends_the_other_sessions(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    new = "heron kettle autumn lamp"
    with app_client(settings) as phone, app_client(settings) as desk:
        phone.headers["X-CSRF-Token"] = sign_in(phone, "nurse.resp")
        sign_in(desk, "nurse.resp")
        weak = phone.post("/api/me/password", json={"current_password": DEMO_PASSWORD, "new_password": "Password123!"})
        assert weak.status_code == 422 and "new_password" in weak.json()["detail"]
        wrong = phone.post("/api/me/password", json={"current_password": "not-it", "new_password": new})
        assert wrong.status_code == 422 and "current_password" in wrong.json()["detail"]
        r = phone.post("/api/me/password", json={"current_password": DEMO_PASSWORD, "new_password": new})
        assert r.status_code == 200 and r.json() == {"changed": True, "other_sessions_ended": 1}
        assert desk.get("/api/me").status_code == 401
        assert phone.get("/api/me").status_code == 200
    assert _audited(clean_db, "auth.password_change") == 1


def test_idle_timeout_and_absolute_lifetime(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as idle, app_client(settings) as busy:
        clock = use_clock(idle)
        busy.app.state.clock = clock  # type: ignore[attr-defined]
        sign_in(idle, "nurse.resp")
        sign_in(busy, "coordinator")
        clock.advance(settings.session_idle_timeout - timedelta(minutes=1))
        assert idle.get("/api/me").status_code == 200  # in use: the idle clock starts again
        clock.advance(settings.session_idle_timeout + timedelta(seconds=1))
        assert idle.get("/api/me").status_code == 401
        lifetime = timedelta(seconds=settings.session_max_age_s)
        step = settings.session_idle_timeout / 2
        assert busy.get("/api/me").status_code == 401  # unused since the start: sign in again, keep it busy
        sign_in(busy, "coordinator")
        used = timedelta(0)
        while used + step < lifetime:
            clock.advance(step)
            used += step
            assert busy.get("/api/me").status_code == 200
        clock.advance(step)
        assert busy.get("/api/me").status_code == 401


def test_admins_see_and_revoke_sessions(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as nurse, app_client(settings) as admin:
        sign_in(nurse, "nurse.resp")
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        sessions = admin.get("/api/security").json()["sessions"]
        assert {s["username"] for s in sessions} == {"nurse.resp", "admin"}
        assert all("token" not in k for s in sessions for k in s)
        target = next(s["id"] for s in sessions if s["username"] == "nurse.resp")
        assert admin.post(f"/api/sessions/{target}/revoke").status_code == 200
        assert nurse.get("/api/me").status_code == 401
        assert admin.post(f"/api/sessions/{target}/revoke").status_code == 404
        page = admin.get("/admin/security", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "nurse.resp" not in page.text
    assert _audited(clean_db, "auth.session_revoke") == 1
