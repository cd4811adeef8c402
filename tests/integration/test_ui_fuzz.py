"""Schemathesis against the app's own OpenAPI schema, signed in as each role, on the real test database.

Bounded (a few derandomised examples per operation, no example database) so it stays near a minute of the
suite. Every answer must be a non-5xx with a documented status, content type and body shape.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import psycopg
import pytest
import schemathesis
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    FailureGroup,
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from alerting.push import ensure_vapid_key
from clinician_ui.deps import route_access
from clinician_ui.security import csrf_for, start_session
from tests.integration.test_ui_route_matrix import _api_routes
from tests.integration.ui_helpers import admit_body, app_client, seed_users
from vward import heartbeat
from vward.config import Settings

EXAMPLES = 8  # per operation and generation mode (valid and invalid data)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = {"nurse": "nurse.resp", "coordinator": "coordinator", "admin": "admin"}
SKIP = {("GET", "/api/alerts/stream")}  # an allowed stream never ends; the role matrix checks its refusals


class Session:
    """A signed-in client for one user, given a new session straight in the database whenever the fuzzer
    ends the old one (sign-out, a revoked session, a deactivation) so every case runs signed in."""

    def __init__(self, client: TestClient, conn: psycopg.Connection, username: str) -> None:
        self.client, self.conn = client, conn
        self.user_id = int(conn.execute("SELECT id FROM users WHERE username = %s", (username,)).fetchone()[0])  # type: ignore[index]
        self.renew()

    def renew(self) -> None:
        self.conn.execute("UPDATE users SET active = true")
        sid = start_session(
            self.conn,
            user_id=self.user_id,
            now=self.client.app.state.clock(),  # type: ignore[attr-defined]
            lifetime=timedelta(hours=1),
            client_addr="fuzz",
            user_agent="schemathesis",
        )
        self.client.cookies.clear()  # drop any id the app set (sign-out hands out a fresh one)
        self.client.cookies.set("vward_session", sid)
        self.headers = {"X-CSRF-Token": csrf_for(sid, self.client.app.state.settings.session_secret)}  # type: ignore[attr-defined]

    def send(self, case: Case) -> Any:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=self.headers)
        kwargs.pop("cookies", None)
        data = kwargs.pop("data", None)
        if data is not None:
            kwargs["content" if isinstance(data, bytes | str) else "data"] = data
        response = self.client.request(**kwargs, follow_redirects=False)
        if response.status_code == 401 or kwargs["url"].endswith("/signout"):
            self.renew()
        return response


def _allowed(settings: Settings, role: str) -> set[tuple[str, str]]:
    allowed = set()
    for route in _api_routes(settings):
        access = route_access(route)
        if isinstance(route, APIRoute) and route.include_in_schema and access is not None and role in access:
            allowed |= {(m, route.path) for m in route.methods}
    return allowed - SKIP


# Schemathesis draws from ``random`` inside its own strategies; Hypothesis deprecates that, and only says so
# on some runs (it failed one CI run under ``filterwarnings = error``). Not our code: ignored here alone.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@pytest.mark.parametrize("role", list(ROLES))
def test_fuzzing_the_schema_finds_no_5xx_and_no_undocumented_answer(
    clean_db: psycopg.Connection, settings: Settings, role: str, tmp_path: Path
) -> None:
    seed_users(clean_db)
    # The alert path is up for the whole run (its outage, /healthz's 503, is tested in test_alert_health.py).
    settings = settings.model_copy(
        update={"vapid_private_key_path": tmp_path / "vapid.pem", "heartbeat_stale_s": 24 * 3600.0}
    )
    for component in ("ingest", "hub"):
        heartbeat.beat(clean_db, component=component, instance="0", now=datetime.now(UTC))
    ensure_vapid_key(tmp_path / "vapid.pem")  # a deployed hub has its key; without one the route is a 503
    allowed = _allowed(settings, role)
    failures: list[str] = []
    with app_client(settings) as client:
        session = Session(client, clean_db, ROLES[role])
        if role == "coordinator":  # something on the wards for the fuzzer to find
            client.post("/api/admissions", json=admit_body(clean_db, 1), headers=session.headers)
        schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) not in allowed:
                continue

            @hypothesis.settings(
                max_examples=EXAMPLES * len(GenerationMode),
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(hypothesis.HealthCheck),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            )
            @hypothesis.given(case=hypothesis.strategies.one_of(operation.as_strategy(mode) for mode in GenerationMode))
            def run(case: Case) -> None:
                response = session.send(case)
                try:
                    case.validate_response(response, checks=CHECKS)
                except FailureGroup as exc:
                    failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:600]}")

            run()
    assert not failures, "\n".join(failures)
