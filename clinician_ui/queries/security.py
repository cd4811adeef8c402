"""Sign-in throttle counters and the admins' view of sessions and locks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from clinician_ui.throttle import Counter


def lock_key(conn: psycopg.Connection, *, scope: str, key: str) -> None:
    """Serialises attempts on one key until the transaction ends, so parallel guesses queue up."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"signin:{scope}:{key}",))


def counter(conn: psycopg.Connection, *, scope: str, key: str) -> Counter | None:
    with conn.cursor(row_factory=class_row(Counter)) as cur:
        return cur.execute(
            "SELECT failures, last_failure_at, locked_until FROM signin_throttle WHERE scope = %s AND key = %s",
            (scope, key),
        ).fetchone()


def save_counter(conn: psycopg.Connection, *, scope: str, key: str, value: Counter) -> None:
    conn.execute(
        "INSERT INTO signin_throttle (scope, key, failures, last_failure_at, locked_until) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (scope, key) DO UPDATE SET failures = EXCLUDED.failures,"
        " last_failure_at = EXCLUDED.last_failure_at, locked_until = EXCLUDED.locked_until",
        (scope, key, value.failures, value.last_failure_at, value.locked_until),
    )


def clear_counter(conn: psycopg.Connection, *, scope: str, key: str) -> bool:
    return conn.execute("DELETE FROM signin_throttle WHERE scope = %s AND key = %s", (scope, key)).rowcount > 0


def purge(conn: psycopg.Connection, *, counters_before: datetime, sessions_before: datetime) -> None:
    """Forgets throttle counters long past their last failure and sessions long ended, so neither table
    grows with every username an attacker tries."""
    conn.execute("DELETE FROM signin_throttle WHERE last_failure_at < %s", (counters_before,))
    conn.execute("DELETE FROM web_sessions WHERE expires_at < %s", (sessions_before,))


def locks(conn: psycopg.Connection, *, now: datetime) -> list[dict[str, Any]]:
    """Keys that are waiting now, longest wait first."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT scope, key, failures, last_failure_at, locked_until FROM signin_throttle"
            " WHERE locked_until > %s ORDER BY locked_until DESC LIMIT 500",
            (now,),
        )
        .fetchall()
    )


def open_sessions(conn: psycopg.Connection, *, now: datetime, idle_since: datetime) -> list[dict[str, Any]]:
    """Sessions still usable now, most recently used first (never the cookie value: it is not stored)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT s.id, u.username, s.created_at, s.last_seen_at, s.expires_at, s.client_addr, s.user_agent"
            " FROM web_sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.revoked_at IS NULL AND s.expires_at > %s AND s.last_seen_at > %s AND u.active"
            " ORDER BY s.last_seen_at DESC LIMIT 1000",
            (now, idle_since),
        )
        .fetchall()
    )


def revoke_session(conn: psycopg.Connection, *, session_id: int, now: datetime) -> int | None:
    """Revokes an open session by its record id; the user it belonged to, or None if none was open."""
    row = conn.execute(
        "UPDATE web_sessions SET revoked_at = %s, revoked_reason = 'admin' WHERE id = %s AND revoked_at IS NULL"
        " RETURNING user_id",
        (now, session_id),
    ).fetchone()
    return None if row is None else int(row[0])
