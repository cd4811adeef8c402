"""Jinja2 templates with the context every page needs (user, CSRF token, filters for times)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from clinician_ui.security import csrf_for

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _hm(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%d %b %H:%M") if value else ""


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


templates.env.filters["hm"] = _hm
templates.env.filters["iso"] = _iso


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    ctx = {
        "csrf": csrf_for(request.state.sid, request.app.state.settings.session_secret),
        "user": getattr(request.state, "user", None),
        "path": request.url.path,
        **context,
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
