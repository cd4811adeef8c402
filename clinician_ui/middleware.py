"""ASGI middleware for every response: security headers, the body size bound and the session cookie.

Pure ASGI (not ``BaseHTTPMiddleware``) so the SSE stream passes through unbuffered. The cookie holds only
a random id: a visitor without one gets a fresh id (their CSRF tokens derive from it); a handler that
signs someone in or out puts a new id in ``request.state.new_sid`` and it is set here.
"""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinician_ui.security import SESSION_COOKIE, new_session_id
from vward.config import Settings

_SID = re.compile(r"^[A-Za-z0-9_-]{43}$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class BodyTooLarge(Exception):
    """The request body passed the configured bound while it was being read."""


def security_headers(path: str, *, secure: bool) -> dict[str, str]:
    """The headers every response carries; everything but static assets is ``no-store`` (patient data)."""
    headers = {
        "Content-Security-Policy": CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if not path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    if secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def session_cookie(value: str, *, secure: bool) -> str:
    return f"{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")


def _cookie_sid(scope: Scope) -> str | None:
    raw = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"cookie"), "")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is treated as no cookie
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and _SID.match(morsel.value) else None


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = self.settings.cookie_secure
        fhir = scope["path"].startswith("/fhir/")
        limit = self.settings.fhir_max_body_bytes if fhir else self.settings.web_max_body_bytes
        state: dict[str, Any] = scope.setdefault("state", {})
        sid = _cookie_sid(scope)
        if sid is None:
            sid = state["new_sid"] = new_session_id()
        state["sid"] = sid
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in security_headers(scope["path"], secure=secure).items():
                    headers[name] = value
                if state.get("new_sid"):
                    headers.append("set-cookie", session_cookie(state["new_sid"], secure=secure))
            await send(message)

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
        try:
            if not declared.isdigit() or int(declared) > limit:
                raise BodyTooLarge
            await self.app(scope, bounded_receive, send_with_headers)
        except BodyTooLarge:
            if started:
                raise
            body = json.dumps({"detail": f"the body may be at most {limit} bytes"}).encode()
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
