"""Every route declares who may call it, and each role × route answer follows the declaration.

The matrix is generated from the app's route table: a new route without a declaration (``public`` or
``require(...)`` from ``clinician_ui.deps``), or outside the checked route class, fails here. The FHIR door's
routes (``fhir_r4``, hosted by the same app) are for other systems, with OAuth2 bearer tokens instead of
sessions: no clinician session opens them (checked below), and ``tests/integration/test_fhir_*`` check
their scopes.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from clinician_ui.app import create_app
from clinician_ui.deps import route_access
from clinician_ui.routing import TypedRoute
from fhir_r4.web import FhirRoute
from tests.integration.ui_helpers import app_client, seed_users, sign_in
from vward.config import Settings

ROLES = {"anonymous": None, "nurse": "nurse.resp", "coordinator": "coordinator", "admin": "admin"}


def _route_table(settings: Settings) -> list[BaseRoute]:
    """Every route of the app, with included routers opened up (newer FastAPI keeps them nested)."""
    routes = create_app(settings).routes
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers were kept whole: the list is already flat
        return list(routes)
    return [context.original_route for context in iter_route_contexts(routes)]


def _api_routes(settings: Settings) -> list[APIRoute]:
    routes = _route_table(settings)
    others = [r for r in routes if not isinstance(r, APIRoute)]
    assert all(isinstance(r, Mount) and r.path == "/static" for r in others), others
    return [r for r in routes if isinstance(r, APIRoute) and not isinstance(r, FhirRoute)]


def _fhir_routes(settings: Settings) -> list[APIRoute]:
    return [r for r in _route_table(settings) if isinstance(r, FhirRoute)]


# The FHIR door's only routes open without a token: how to get one, and what the server can do.
FHIR_PUBLIC = {("POST", "/oauth2/token"), ("GET", "/fhir/R4/metadata")}


def test_no_clinician_session_opens_the_fhir_door(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    cases = [
        (method, route.path)
        for route in _fhir_routes(settings)
        for method in sorted(route.methods - {"HEAD"})
        if (method, route.path) not in FHIR_PUBLIC
    ]
    assert len(cases) >= 5, cases
    failures = []
    for role, username in ROLES.items():
        with app_client(settings) as client:
            client.headers["X-CSRF-Token"] = (
                sign_in(client, username) if username else client.get("/api/csrf").json()["csrf"]
            )
            for method, template in cases:
                r = client.request(method, _concrete(template), **({"json": {}} if method == "POST" else {}))
                if r.status_code != 401:
                    failures.append(f"{role} {method} {template}: {r.status_code} {r.text[:80]}")
    assert failures == []


def test_every_route_declares_who_may_call_it(settings: Settings) -> None:
    undeclared = [r.path for r in _api_routes(settings) if route_access(r) is None]
    assert undeclared == [], "routes without exactly one public/require declaration"
    unchecked = [r.path for r in _api_routes(settings) if not isinstance(r, TypedRoute)]
    assert unchecked == [], "routes that bypass the input and CSRF gate (use routing.make_router)"


def _concrete(path: str) -> str:
    """The path with each parameter filled by a record that does not exist."""
    return re.sub(r"\{(\w+)\}", lambda m: "no-such-device" if m.group(1) == "device_id" else "999999", path)


def _streams(route: APIRoute) -> bool:
    return "StreamingResponse" in str(route.endpoint.__annotations__.get("return", ""))


def _cases(settings: Settings) -> list[tuple[str, str, str, frozenset[str], bool]]:
    cases = []
    for route in _api_routes(settings):
        access = route_access(route)
        assert access is not None
        for method in sorted(route.methods - {"HEAD"}):
            cases.append((method, route.path, _concrete(route.path), access, _streams(route)))
    # Sign-out ends the session: run it after everything else.
    return sorted(cases, key=lambda c: c[1] == "/signout")


def test_each_role_gets_what_its_route_declares(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    cases = _cases(settings)
    failures = []
    for role, username in ROLES.items():
        with app_client(settings) as client:
            client.headers["X-CSRF-Token"] = (
                sign_in(client, username) if username else client.get("/api/csrf").json()["csrf"]
            )
            for method, template, path, access, streams in cases:
                allowed = role in access
                if allowed and streams:
                    continue  # an allowed stream never ends; its refusals are still checked
                r = client.request(method, path, **({"json": {}} if method == "POST" else {}))
                refused = 401 if role == "anonymous" else 403
                if (r.status_code in (401, 403)) == allowed or (not allowed and r.status_code != refused):
                    failures.append(f"{role} {method} {template}: {r.status_code} {r.text[:80]}")
    assert failures == []


@pytest.mark.parametrize("role", ["nurse", "coordinator", "admin"])
def test_the_html_pages_redirect_signed_out_users_and_refuse_other_roles(
    clean_db: psycopg.Connection, settings: Settings, role: str
) -> None:
    seed_users(clean_db)
    pages = [c for c in _cases(settings) if c[0] == "GET" and "{" not in c[1] and not c[1].startswith("/api/")]
    with app_client(settings) as anon, app_client(settings) as client:
        sign_in(client, ROLES[role] or "")
        for _, template, path, access, _ in pages:
            html = {"Accept": "text/html"}
            if "anonymous" not in access:
                r = anon.get(path, headers=html, follow_redirects=False)
                assert r.status_code == 303 and r.headers["location"].startswith("/signin"), template
            r = client.get(path, headers=html, follow_redirects=False)
            assert (r.status_code == 403) == (role not in access), (template, r.status_code)
