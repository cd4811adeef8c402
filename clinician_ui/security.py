"""Users, sign-in and server-side sessions.

The session cookie carries only a random id; the session record (user, created, last seen, expiry, revoked,
client) lives in PostgreSQL keyed by the id's SHA-256, so sign-out, deactivation and a password change end
it at once. The CSRF token is an HMAC of the session id: nothing else needs storing and it changes with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from vward.passwords import verify_password

ROLES = ("nurse", "coordinator", "admin")
SESSION_COOKIE = "vward_session"
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
    " WHERE u.active AND u.id = %s GROUP BY u.id"
)


def load_user(conn: psycopg.Connection, user_id: int) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(_USER_SQL, (user_id,)).fetchone()


def authenticate(conn: psycopg.Connection, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same work either way)."""
    row = conn.execute(
        "SELECT id, password_hash FROM users WHERE username = %s AND active", (username.strip().lower(),)
    ).fetchone()
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None
    return load_user(conn, row[0]) if verify_password(password, row[1]) else None


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def csrf_for(session_id: str, secret: str) -> str:
    """The CSRF token bound to this session id (signed in or not)."""
    return hmac.new(secret.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def csrf_ok(session_id: str | None, secret: str, presented: str | None) -> bool:
    return (
        session_id is not None
        and presented is not None
        and hmac.compare_digest(csrf_for(session_id, secret), presented)
    )


def start_session(
    conn: psycopg.Connection,
    *,
    user_id: int,
    now: datetime,
    lifetime: timedelta,
    client_addr: str,
    user_agent: str,
) -> str:
    """Records a new session and returns its id (the cookie value); only the id's hash is stored."""
    session_id = new_session_id()
    conn.execute(
        "INSERT INTO web_sessions (token_hash, user_id, created_at, last_seen_at, expires_at, client_addr, user_agent)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (_digest(session_id), user_id, now, now, now + lifetime, client_addr[:100], user_agent[:300]),
    )
    return session_id


def session_user(conn: psycopg.Connection, session_id: str, *, now: datetime, idle: timedelta) -> User | None:
    """The active user of a live session (not revoked, expired or idle too long), marking it seen now."""
    row = conn.execute(
        "UPDATE web_sessions SET last_seen_at = %(now)s WHERE token_hash = %(h)s AND revoked_at IS NULL"
        " AND expires_at > %(now)s AND last_seen_at > %(idle_since)s RETURNING user_id",
        {"now": now, "h": _digest(session_id), "idle_since": now - idle},
    ).fetchone()
    return None if row is None else load_user(conn, row[0])


def session_is_live(conn: psycopg.Connection, session_id: str, *, now: datetime, idle: timedelta) -> bool:
    """Whether a session still holds, without counting as activity: an open live stream is not a person at
    the keyboard, so it must not keep an idle session alive."""
    row = conn.execute(
        "SELECT 1 FROM web_sessions WHERE token_hash = %(h)s AND revoked_at IS NULL"
        " AND expires_at > %(now)s AND last_seen_at > %(idle_since)s",
        {"now": now, "h": _digest(session_id), "idle_since": now - idle},
    ).fetchone()
    return row is not None


def end_session(conn: psycopg.Connection, session_id: str, *, now: datetime, reason: str) -> None:
    conn.execute(
        "UPDATE web_sessions SET revoked_at = %s, revoked_reason = %s WHERE token_hash = %s AND revoked_at IS NULL",
        (now, reason, _digest(session_id)),
    )


def end_user_sessions(
    conn: psycopg.Connection, *, user_id: int, now: datetime, reason: str, keep: str | None = None
) -> int:
    """Revokes every open session of the user (but ``keep``, the caller's own); returns how many."""
    return conn.execute(
        "UPDATE web_sessions SET revoked_at = %s, revoked_reason = %s"
        " WHERE user_id = %s AND revoked_at IS NULL AND token_hash IS DISTINCT FROM %s",
        (now, reason, user_id, None if keep is None else _digest(keep)),
    ).rowcount
