"""Security headers on every page and API answer (errors and static files too); the schema and the docs."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient
from httpx import Response

from tests.integration.ui_helpers import admit_body, app_client, seed_users, sign_in
from vward.config import Settings

EVERYWHERE = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _check(r: Response, *, patient_data: bool = True) -> None:
    where = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
    for name, value in EVERYWHERE.items():
        assert r.headers.get(name) == value, where
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, where
    if patient_data:
        assert r.headers["Cache-Control"] == "no-store", where
    assert "Strict-Transport-Security" not in r.headers, where  # cookies are not Secure in this app


def _pages(client: TestClient, paths: list[str]) -> list[Response]:
    html = [client.get(p, headers={"Accept": "text/html"}, follow_redirects=False) for p in paths]
    return html + [client.get(p) for p in paths]


def test_every_page_and_api_response_carries_the_headers(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as anon, app_client(settings) as coord, app_client(settings) as admin:
        coord.headers["X-CSRF-Token"] = sign_in(coord, "coordinator")
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        adm = coord.post("/api/admissions", json=admit_body(clean_db, 3)).json()["admission_id"]
        answers = _pages(anon, ["/signin", "/", "/api/me", "/api/alerts", "/openapi.json", "/docs", "/nowhere"])
        answers += _pages(
            coord, ["/", "/capacity", "/admissions/new", f"/patients/{adm}", f"/api/patients/{adm}", "/fragments/queue"]
        )
        answers += _pages(coord, ["/api/capacity", "/api/alerts", "/api/me", "/api/csrf", "/patients/999999"])
        answers += _pages(admin, ["/admin/users", "/admin/devices", "/admin/audit", "/admin/security", "/api/audit"])
        answers += [
            coord.post(f"/api/patients/{adm}/observations", json={"rr": 18}),
            coord.post(f"/api/patients/{adm}/observations", json={"rr": True}),
            coord.post("/api/wards/1/capacity", json={"beds": 5}, headers={"X-CSRF-Token": "forged"}),
            anon.post("/signin", json={"username": "x", "password": "y"}, headers=anon.headers),
            anon.post("/signin", content=b"x" * (settings.web_max_body_bytes + 1)),
            admin.post("/api/devices", json={"id": "dev-hdr-1", "kind": "thermometer", "serial": "S"}),
        ]
        statuses = {r.status_code for r in answers}
        assert {200, 201, 303, 401, 403, 404, 413, 422} <= statuses
        for r in answers:
            _check(r)
        for asset in ("/static/app.css", "/static/app.js"):
            _check(anon.get(asset), patient_data=False)


def test_hsts_and_secure_cookies_when_cookies_are_secure(clean_db: psycopg.Connection, settings: Settings) -> None:
    with app_client(settings.model_copy(update={"cookie_secure": True})) as client:
        r = client.get("/api/csrf")
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        cookie = r.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_have_no_inline_script_or_style(clean_db: psycopg.Connection, settings: Settings) -> None:
    seed_users(clean_db)
    with app_client(settings) as coord:
        sign_in(coord, "coordinator")
        for path in ("/", "/capacity", "/admissions/new"):
            page = coord.get(path, headers={"Accept": "text/html"}).text
            assert "<script>" not in page and "<style" not in page and " style=" not in page, path
            assert " on" + "click=" not in page and "javascript:" not in page, path


def test_the_schema_is_for_signed_in_users_and_documents_every_body(
    clean_db: psycopg.Connection, settings: Settings
) -> None:
    seed_users(clean_db)
    with app_client(settings) as client:
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
        sign_in(client, "nurse.resp")
        schema = client.get("/openapi.json").json()
    writes = [(m, p, op) for p, ops in schema["paths"].items() for m, op in ops.items() if m in ("post", "put")]
    assert len(writes) >= 15
    for method, path, op in writes:
        content = op.get("requestBody", {}).get("content", {})
        # OAuth2's token endpoint takes a form, as RFC 6749 requires of client-credentials requests.
        kind = "application/x-www-form-urlencoded" if path == "/oauth2/token" else "application/json"
        assert kind in content and content[kind].get("schema"), (method, path)
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            ok = [s for s in op["responses"] if s.startswith("2")]
            assert ok or "303" in op["responses"], (method, path)
            assert all("content" in op["responses"][s] for s in ok if s != "204"), (method, path)
