"""Sign-in throttling per account and per client address: audited, unlockable, and silent about accounts."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.integration.ui_helpers import app_client, seed_users, sign_in, use_clock
from vward.config import Settings
from vward.seed import DEMO_PASSWORD


def _attempt(client: TestClient, username: str, password: str) -> tuple[int, str]:
    token = client.get("/api/csrf").json()["csrf"]
    r = client.post("/signin", json={"username": username, "password": password}, headers={"X-CSRF-Token": token})
    return r.status_code, r.json()["detail"] if r.status_code != 200 else ""


def _count(conn: psycopg.Connection, action: str, account: str) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = %s AND entity_id = %s", (action, account)
        ).fetchone()[0]  # type: ignore[index]
    )


def test_31_wrong_passwords_are_throttled_and_audited_then_the_right_one_works(
    clean_db: psycopg.Connection, settings: Settings
) -> None:
    seed_users(clean_db)
    free = settings.signin_free_failures_account
    with app_client(settings) as client:
        clock = use_clock(client)
        answers = [_attempt(client, "nurse.resp", f"guess-{i}") for i in range(31)]
        assert [s for s, _ in answers] == [401] * free + [429] * (31 - free)
        assert "Try again in" in answers[-1][1]
        assert _attempt(client, "nurse.resp", DEMO_PASSWORD)[0] == 429  # not even checked while waiting
        clock.advance(settings.signin_delay_base)
        assert _attempt(client, "nurse.resp", DEMO_PASSWORD)[0] == 200
    assert _count(clean_db, "auth.signin_failed", "nurse.resp") == free
    assert _count(clean_db, "auth.signin_throttled", "nurse.resp") == 31 - free + 1
    signed_in = clean_db.execute("SELECT count(*) FROM audit_log WHERE action = 'auth.signin'").fetchone()[0]  # type: ignore[index]
    assert signed_in == 1


def test_the_delay_grows_with_each_failure_after_the_free_ones(
    clean_db: psycopg.Connection, settings: Settings
) -> None:
    seed_users(clean_db)
    free = settings.signin_free_failures_account
    with app_client(settings) as client:
        clock = use_clock(client)
        for _ in range(free):
            assert _attempt(client, "coordinator", "wrong")[0] == 401
        for waited in (settings.signin_delay_base, settings.signin_delay_base * 2, settings.signin_delay_base * 4):
            assert _attempt(client, "coordinator", "wrong")[0] == 429
            clock.advance(waited)
            assert _attempt(client, "coordinator", "wrong")[0] == 401


def test_unknown_accounts_are_answered_exactly_like_known_ones(
    clean_db: psycopg.Connection, settings: Settings
) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        use_clock(client)
        known = [_attempt(client, "nurse.resp", "wrong") for _ in range(8)]
        unknown = [_attempt(client, "no.such.person", "wrong") for _ in range(8)]
    assert [s for s, _ in known] == [s for s, _ in unknown]
    assert [m.split(" in ")[0] for _, m in known] == [m.split(" in ")[0] for _, m in unknown]


def test_one_address_is_throttled_across_accounts(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        use_clock(client)
        for i in range(settings.signin_free_failures_address):
            assert _attempt(client, f"someone{i}", "wrong")[0] == 401
        assert _attempt(client, "admin", DEMO_PASSWORD)[0] == 429


def test_an_admin_can_unlock_an_account_and_it_is_audited(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client, app_client(settings) as admin:
        clock = use_clock(client)
        admin.app.state.clock = clock  # type: ignore[attr-defined]
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        for _ in range(settings.signin_free_failures_account + 1):
            _attempt(client, "nurse.resp", "wrong")
        assert _attempt(client, "nurse.resp", DEMO_PASSWORD)[0] == 429
        locks = admin.get("/api/security").json()["locks"]
        assert [(lock["scope"], lock["key"]) for lock in locks] == [("account", "nurse.resp")]
        assert admin.post("/api/signin-locks/unlock", json={"scope": "account", "key": "nurse.resp"}).status_code == 200
        assert _attempt(client, "nurse.resp", DEMO_PASSWORD)[0] == 200
        assert admin.post("/api/signin-locks/unlock", json={"scope": "account", "key": "nurse.resp"}).status_code == 404
    assert _count(clean_db, "auth.unlock", "nurse.resp") == 1


def test_the_html_form_shows_the_same_messages(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        use_clock(client)
        page = client.get("/signin", headers={"Accept": "text/html"})
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"username": "nurse.resp", "password": "wrong", "csrf_token": token, "next": "/"}
        answers = [client.post("/signin", data=form, headers={"Accept": "text/html"}) for _ in range(6)]
        assert [r.status_code for r in answers] == [401] * 5 + [429]
        assert "Wrong username or password." in answers[0].text and "Too many sign-in attempts" in answers[-1].text
        form["password"] = DEMO_PASSWORD
        client.app.state.clock.advance(settings.signin_delay_base)  # type: ignore[attr-defined]
        ok = client.post("/signin", data=form, headers={"Accept": "text/html"}, follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"] == "/"


def test_old_counters_and_long_ended_sessions_are_forgotten(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        clock = use_clock(client)
        for i in range(3):
            _attempt(client, f"sprayed{i}", "wrong")
        sign_in(client, "nurse.resp")
        clock.advance(timedelta(days=31))
        _attempt(client, "someone.else", "wrong")
    keys = [r[0] for r in clean_db.execute("SELECT key FROM signin_throttle WHERE scope = 'account'")]
    assert keys == ["someone.else"]
    assert clean_db.execute("SELECT count(*) FROM web_sessions").fetchone()[0] == 0  # type: ignore[index]
