"""Sign-in and sign-out; both are audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from clinician_ui.deps import Conn, Payload, current_user, safe_next, wants_html
from clinician_ui.errors import NotSignedIn
from clinician_ui.queries import audit
from clinician_ui.security import User, authenticate, csrf_token
from clinician_ui.templating import render

router = APIRouter(tags=["auth"])


@router.get("/signin", include_in_schema=False)
def signin_page(request: Request, next: str = "/") -> Response:
    return render(request, "signin.html", {"next": next, "error": None})


@router.post("/signin")
def signin(request: Request, conn: Conn, data: Payload) -> Response:
    """Form or JSON ``{username, password}``; starts a fresh session (new CSRF token)."""
    user = authenticate(conn, str(data.get("username", "")), str(data.get("password", "")))
    if user is None:
        audit.record(
            conn,
            actor_id=None,
            action="auth.signin_failed",
            entity="user",
            entity_id=str(data.get("username", ""))[:64],
        )
        if wants_html(request):
            return render(
                request,
                "signin.html",
                {"next": safe_next(data, "/"), "error": "Wrong username or password."},
                status_code=401,
            )
        raise NotSignedIn("wrong username or password")
    request.session.clear()
    request.session["user_id"] = user.id
    audit.record(conn, actor_id=user.id, action="auth.signin", entity="user", entity_id=user.id)
    default = "/admin/users" if user.role == "admin" else "/"
    if wants_html(request):
        return RedirectResponse(safe_next(data, default), status_code=303)
    return JSONResponse({"user_id": user.id, "role": user.role, "csrf": csrf_token(request.session)})


@router.post("/signout")
def signout(request: Request, conn: Conn, user: Annotated[User, Depends(current_user)], data: Payload) -> Response:
    audit.record(conn, actor_id=user.id, action="auth.signout", entity="user", entity_id=user.id)
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


@router.get("/api/me")
def me(user: Annotated[User, Depends(current_user)]) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "ward_ids": user.ward_ids,
    }


@router.get("/api/csrf")
def csrf(request: Request) -> dict[str, str]:
    """The session's CSRF token, for JSON clients (send it back as the ``X-CSRF-Token`` header)."""
    return {"csrf": csrf_token(request.session)}
