"""Shared set-up for the clinician UI integration tests: the app on the fixture services, signed-in clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import uvicorn
from fastapi.testclient import TestClient

from clinician_ui.app import create_app
from vward.config import Settings
from vward.ephemeral import free_port
from vward.nhs_number import check_digit
from vward.seed import DEMO_PASSWORD, seed_demo_users


@contextmanager
def app_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@contextmanager
def served(settings: Settings, **config: Any) -> Iterator[str]:
    """The app under uvicorn on a free port in a thread, for a browser, an SSE reader or an HTTP client;
    yields its base URL. ``config``: more ``uvicorn.Config`` options."""
    srv = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning", **config)
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        thread.join(0.05)
    try:
        yield f"http://127.0.0.1:{srv.config.port}"
    finally:
        srv.should_exit = True
        thread.join(30)


def sign_in(client: TestClient, username: str) -> str:
    """Signs in with the demo password; returns the session's CSRF token for the X-CSRF-Token header."""
    token = client.get("/api/csrf").json()["csrf"]
    r = client.post("/signin", json={"username": username, "password": DEMO_PASSWORD}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf"])


def seed_users(conn: psycopg.Connection) -> None:
    seed_demo_users(conn)


@contextmanager
def signed_in(conn: psycopg.Connection, settings: Settings, username: str) -> Iterator[TestClient]:
    """The app signed in as one of the demo users (seeded first), its CSRF token sent on every request."""
    seed_users(conn)
    with app_client(settings) as client:
        client.headers["X-CSRF-Token"] = sign_in(client, username)
        yield client


def nhs(n: int) -> str:
    """A valid NHS number in the test range, distinct for each ``n``."""
    while True:
        first = f"999{n:06d}"
        digit = check_digit(first)
        if digit is not None:
            return first + str(digit)
        n += 500_000


def ward_id(conn: psycopg.Connection, code: str) -> int:
    return int(conn.execute("SELECT id FROM wards WHERE code = %s", (code,)).fetchone()[0])  # type: ignore[index]


def admit_body(conn: psycopg.Connection, n: int, code: str = "frailty", **extra: object) -> dict[str, object]:
    return {
        "nhs_number": nhs(n),
        "given_name": "Ada",
        "family_name": f"Test{n}",
        "date_of_birth": "1940-02-03",
        "ward_id": ward_id(conn, code),
        "source": "step_up",
        **extra,
    }


class MovableClock:
    """The app's clock, moved by the test (idle timeouts and sign-in delays without sleeping)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def use_clock(client: TestClient) -> MovableClock:
    clock = MovableClock(datetime.now(UTC))
    client.app.state.clock = clock  # type: ignore[attr-defined]
    return clock


def session_cookie(client: TestClient) -> str:
    return str(client.cookies.get("vward_session"))
