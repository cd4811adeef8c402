"""FastAPI dependencies: the pooled connection, the clock, the signed-in user and who may call each route.

Every route declares who may call it with exactly one of ``public`` or ``require(...)`` (``signed_in`` is
``require`` of every role); ``route_access`` reads the declaration back for the role × route test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

import psycopg
import redis
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from psycopg_pool import ConnectionPool

from clinician_ui.errors import Forbidden, NotSignedIn
from clinician_ui.security import ROLES, User, session_user
from vward.config import Settings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_clock(request: Request) -> Clock:
    """The app's clock (``app.state.clock``): tests move it to pass idle timeouts and sign-in delays."""
    return request.app.state.clock  # type: ignore[no-any-return]


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """An autocommit connection from the pool; handlers open ``conn.transaction()`` for writes."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


def get_redis(request: Request) -> redis.Redis:
    return request.app.state.redis  # type: ignore[no-any-return]


Conn = Annotated[psycopg.Connection, Depends(get_conn)]
AppSettings = Annotated[Settings, Depends(get_settings)]
AppClock = Annotated[Clock, Depends(get_clock)]


def session_id(request: Request) -> str:
    """This visitor's session id (set by ``SecurityMiddleware``; signed in or not)."""
    return str(request.state.sid)


def current_user(request: Request, conn: Conn, settings: AppSettings, clock: AppClock) -> User:
    """The user of a live session; a revoked, expired or idle session is a 401."""
    user = session_user(conn, session_id(request), now=clock(), idle=settings.session_idle_timeout)
    if user is None:
        raise NotSignedIn("please sign in")
    request.state.user = user
    return user


class Require:
    """A dependency admitting only ``roles``; its ``roles`` attribute is the route's declared access."""

    def __init__(self, *roles: str) -> None:
        self.roles = frozenset(roles)

    def __call__(self, user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in self.roles:
            raise Forbidden(f"this needs the {' or '.join(sorted(self.roles))} role")
        return user


class Public:
    """Declares a route open to everyone, signed in or not."""

    roles = frozenset({"anonymous", *ROLES})

    def __call__(self) -> None:
        return None


def require(*roles: str) -> Require:
    return Require(*roles)


public = Public()
signed_in = Require(*ROLES)
SignedIn = Annotated[User, Depends(signed_in)]
Clinician = Annotated[User, Depends(require("nurse", "coordinator"))]
Coordinator = Annotated[User, Depends(require("coordinator"))]
Admin = Annotated[User, Depends(require("admin"))]


def route_access(route: APIRoute) -> frozenset[str] | None:
    """The roles (``anonymous`` for signed-out visitors) a route declares, or None if it declares none."""
    found: list[frozenset[str]] = []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Require | Public):
            found.append(dep.call.roles)
        stack.extend(dep.dependencies)
    return found[0] if len(found) == 1 else None


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def safe_next(request: Request, default: str) -> str:
    """A local redirect target from the form's ``next`` field (never another site)."""
    nxt = getattr(request.state, "form_next", None)
    return nxt if isinstance(nxt, str) and nxt.startswith("/") and not nxt.startswith("//") else default
