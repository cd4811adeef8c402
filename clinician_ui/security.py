"""Sign-in, the signed session and CSRF tokens.

The session is Starlette's signed cookie (itsdangerous) holding only the user id and the CSRF token; the
user row is re-read on every request so a deactivated user is out at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import class_row

from vward.passwords import verify_password

ROLES = ("nurse", "coordinator", "admin")
# Argon2 verification of a fixed hash keeps timing the same for unknown usernames.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$ZTvPoY0s4nLq8d3w0m4r7k6wWnW1cJ9m3Vv9h3Yy1gQ"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    ward_ids: list[int]

    @property
    def clinical(self) -> bool:
        return self.role in ("nurse", "coordinator")


_USER_SQL = (
    "SELECT u.id, u.username, u.display_name, u.role,"
    " coalesce(array_agg(uw.ward_id ORDER BY uw.ward_id) FILTER (WHERE uw.ward_id IS NOT NULL), '{}') AS ward_ids"
    " FROM users u LEFT JOIN user_wards uw ON uw.user_id = u.id"
    " WHERE u.active AND {cond} GROUP BY u.id"
)


def load_user(conn: psycopg.Connection, user_id: int) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(_USER_SQL.replace("{cond}", "u.id = %s"), (user_id,)).fetchone()


def authenticate(conn: psycopg.Connection, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same work either way)."""
    row = conn.execute(
        "SELECT id, password_hash FROM users WHERE username = %s AND active", (username.strip().lower(),)
    ).fetchone()
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None
    return load_user(conn, row[0]) if verify_password(password, row[1]) else None


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: MutableMapping[str, Any], presented: str | None) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and presented is not None and hmac.compare_digest(expected, presented)
