"""Sign-in (throttled per account and per client address), sign-out, the user's own password; audited."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from clinician_ui import throttle
from clinician_ui.deps import AppClock, AppSettings, Conn, SignedIn, public, safe_next, session_id, wants_html
from clinician_ui.errors import BadInput
from clinician_ui.password_policy import password_problem
from clinician_ui.queries import audit
from clinician_ui.queries import security as sq
from clinician_ui.routing import make_router
from clinician_ui.schemas import NoBody, StrictIn
from clinician_ui.security import (
    authenticate,
    csrf_for,
    end_session,
    end_user_sessions,
    new_session_id,
    start_session,
)
from clinician_ui.templating import render
from vward.config import Settings
from vward.passwords import hash_password

router = make_router("auth")
Public = Depends(public)
WRONG = "Wrong username or password."
SESSION_RECORDS_KEPT = timedelta(days=30)  # ended sessions stay listed this long for investigations


class SigninIn(StrictIn):
    username: Annotated[str, Field(max_length=200)]
    password: Annotated[str, Field(max_length=1000)]


class SigninOut(BaseModel):
    user_id: int
    role: str
    csrf: str


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    ward_ids: list[int]


class CsrfOut(BaseModel):
    csrf: str


class PasswordIn(StrictIn):
    current_password: Annotated[str, Field(max_length=1000)]
    new_password: Annotated[str, Field(max_length=1000)]


class PasswordOut(BaseModel):
    changed: bool
    other_sessions_ended: int


def _policies(settings: Settings) -> dict[str, throttle.Policy]:
    return {
        scope: throttle.Policy(
            free_failures=free, base_delay=settings.signin_delay_base, max_delay=settings.signin_delay_max
        )
        for scope, free in (
            ("account", settings.signin_free_failures_account),
            ("address", settings.signin_free_failures_address),
        )
    }


def _refuse(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if wants_html(request):
        ctx = {"next": safe_next(request, "/"), "error": message}
        return render(request, "signin.html", ctx, status_code=status)
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


@router.get("/signin", include_in_schema=False, dependencies=[Public])
def signin_page(request: Request, next: str = "/") -> Response:
    return render(request, "signin.html", {"next": next, "error": None})


@router.post("/signin", response_model=SigninOut, responses={303: {"description": "Signed in (HTML form)"}})
def signin(
    request: Request, body: SigninIn, conn: Conn, settings: AppSettings, clock: AppClock, _: None = Public
) -> Response:
    """Starts a new session (a new id, whatever the old one was); throttled after repeated failures."""
    now = clock()
    keys = {"account": body.username.strip().lower()[:64], "address": request.client.host if request.client else ""}
    policies = _policies(settings)
    who: dict[str, Any] = {"address": keys["address"]}
    with conn.transaction():
        sq.purge(conn, counters_before=now - settings.signin_delay_max * 2, sessions_before=now - SESSION_RECORDS_KEPT)
        for scope, key in keys.items():
            sq.lock_key(conn, scope=scope, key=key)
        counters = {scope: sq.counter(conn, scope=scope, key=key) for scope, key in keys.items()}
        wait = max(throttle.wait_left(c, now) for c in counters.values())
        user = None if wait else authenticate(conn, body.username, body.password)
        if wait:
            audit.record(
                conn,
                actor_id=None,
                action="auth.signin_throttled",
                entity="user",
                entity_id=keys["account"],
                detail={**who, "wait_s": math.ceil(wait / timedelta(seconds=1))},
            )
        elif user is None:
            for scope, key in keys.items():
                counter = throttle.after_failure(counters[scope], now, policies[scope])
                sq.save_counter(conn, scope=scope, key=key, value=counter)
            audit.record(
                conn, actor_id=None, action="auth.signin_failed", entity="user", entity_id=keys["account"], detail=who
            )
        else:
            sq.clear_counter(conn, scope="account", key=keys["account"])
            end_session(conn, session_id(request), now=now, reason="replaced")
            new_sid = start_session(
                conn,
                user_id=user.id,
                now=now,
                lifetime=timedelta(seconds=settings.session_max_age_s),
                client_addr=keys["address"],
                user_agent=request.headers.get("user-agent", ""),
            )
            audit.record(conn, actor_id=user.id, action="auth.signin", entity="user", entity_id=user.id, detail=who)
    if wait:
        seconds = math.ceil(wait / timedelta(seconds=1))
        message = f"Too many sign-in attempts. Try again in {seconds} seconds."
        return _refuse(request, 429, message, {"Retry-After": str(seconds)})
    if user is None:
        return _refuse(request, 401, WRONG)
    request.state.new_sid = new_sid
    if wants_html(request):
        return RedirectResponse(safe_next(request, "/admin/users" if user.role == "admin" else "/"), status_code=303)
    return JSONResponse({"user_id": user.id, "role": user.role, "csrf": csrf_for(new_sid, settings.session_secret)})


@router.post("/signout", status_code=303, response_class=RedirectResponse)
def signout(
    request: Request, conn: Conn, user: SignedIn, clock: AppClock, body: NoBody | None = None
) -> RedirectResponse:
    """Revokes the session on the server (a copied cookie no longer works) and gives a fresh id."""
    with conn.transaction():
        end_session(conn, session_id(request), now=clock(), reason="signout")
        audit.record(conn, actor_id=user.id, action="auth.signout", entity="user", entity_id=user.id)
    request.state.new_sid = new_session_id()
    return RedirectResponse("/signin", status_code=303)


@router.get("/api/me", response_model=MeOut)
def me(user: SignedIn) -> MeOut:
    return MeOut(
        id=user.id, username=user.username, display_name=user.display_name, role=user.role, ward_ids=user.ward_ids
    )


@router.post("/api/me/password", response_model=PasswordOut)
def change_password(request: Request, body: PasswordIn, conn: Conn, user: SignedIn, clock: AppClock) -> PasswordOut:
    """Checks the current password and the NCSC rules; ends the user's other sessions."""
    problem = password_problem(body.new_password, username=user.username)
    if problem is not None:
        raise BadInput(f"new_password: {problem}")
    if authenticate(conn, user.username, body.current_password) is None:
        raise BadInput("current_password: this is not your current password")
    with conn.transaction():
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (hash_password(body.new_password), user.id))
        ended = end_user_sessions(conn, user_id=user.id, now=clock(), reason="password", keep=session_id(request))
        audit.record(conn, actor_id=user.id, action="auth.password_change", entity="user", entity_id=user.id)
    return PasswordOut(changed=True, other_sessions_ended=ended)


@router.get("/api/csrf", response_model=CsrfOut, dependencies=[Public])
def csrf(request: Request, settings: AppSettings) -> CsrfOut:
    """The session's CSRF token, for JSON clients (send it back as the ``X-CSRF-Token`` header)."""
    return CsrfOut(csrf=csrf_for(session_id(request), settings.session_secret))


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, user: SignedIn) -> JSONResponse:
    """The API schema, for signed-in users only."""
    return JSONResponse(request.app.openapi())
