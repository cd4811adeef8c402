"""FastAPI dependencies: the pooled connection, the signed-in user, role checks, CSRF and request bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import psycopg
import redis
from fastapi import Depends, Request
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ValidationError

from clinician_ui.errors import BadInput, Forbidden, NotSignedIn
from clinician_ui.security import User, csrf_ok, load_user
from vward.config import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """An autocommit connection from the pool; handlers open ``conn.transaction()`` for writes."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


def get_redis(request: Request) -> redis.Redis:
    return request.app.state.redis  # type: ignore[no-any-return]


Conn = Annotated[psycopg.Connection, Depends(get_conn)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def current_user(request: Request, conn: Conn) -> User:
    user_id = request.session.get("user_id")
    user = load_user(conn, user_id) if isinstance(user_id, int) else None
    if user is None:
        request.session.pop("user_id", None)
        raise NotSignedIn("please sign in")
    request.state.user = user
    return user


def require(*roles: str) -> Callable[[User], User]:
    """A dependency admitting only these roles."""

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise Forbidden(f"this needs the {' or '.join(roles)} role")
        return user

    return check


async def read_payload(request: Request) -> dict[str, Any]:
    """The body as a dict, from JSON or an HTML form; checks the CSRF token (header or form field)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"the body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadInput("the body must be a JSON object")
        token = request.headers.get("x-csrf-token")
    else:
        form = await request.form()
        data = {k: (v if isinstance(v, str) else "") for k, v in form.multi_items() if k != "csrf_token"}
        multi = {k: form.getlist(k) for k in form if len(form.getlist(k)) > 1}
        data.update(multi)
        token = request.headers.get("x-csrf-token") or str(form.get("csrf_token") or "") or None
    if not csrf_ok(request.session, token):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")
    return data


Payload = Annotated[dict[str, Any], Depends(read_payload)]
M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validates ``data``; empty form fields count as absent. Errors become a readable 422."""
    cleaned = {k: v for k, v in data.items() if v != "" and k != "next"}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        msgs = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
        raise BadInput("; ".join(msgs)) from exc


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def safe_next(data: dict[str, Any], default: str) -> str:
    """A local redirect target from the form's ``next`` field (never another site)."""
    nxt = data.get("next")
    return nxt if isinstance(nxt, str) and nxt.startswith("/") and not nxt.startswith("//") else default
