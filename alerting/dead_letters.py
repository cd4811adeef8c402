"""Dead letters: work the hub could not do, kept in PostgreSQL for an admin instead of lost or fatal.

The hub records each failure of a piece of work (a stream entry's pushes, an alert's clock); the piece is
retried until ``max_attempts`` failures, then parked. An admin sees parked and failing work on
``/admin/dead-letters`` and retries it (a stream entry is put back on the stream; a parked clock runs again
at the next tick) or dismisses it. Every park, retry and dismissal is in the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from alerting.errors import AlertingError

KINDS = ("stream_entry", "clock", "missed_readings")
MAX_ERROR_CHARS = 1000
OUTCOMES = {"retry": "retried", "dismiss": "dismissed"}  # an admin's action and the status it leaves


class DeadLetterNotFound(AlertingError):
    """No live (failing or parked) dead letter has that id."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    kind: str
    ref: str
    payload: dict[str, Any]
    error: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    status: str
    handled_by: int | None
    handled_at: datetime | None


_COLUMNS = "id, kind, ref, payload, error, attempts, first_failed_at, last_failed_at, status, handled_by, handled_at"


def record_failure(
    conn: psycopg.Connection,
    *,
    kind: str,
    ref: str,
    payload: Mapping[str, Any],
    error: str,
    now: datetime,
    max_attempts: int,
) -> str:
    """Counts one more failure of ``kind``/``ref``; parks it at ``max_attempts``. Returns its status."""
    with conn.transaction():
        row = conn.execute(
            "WITH before AS (SELECT status FROM dead_letters"
            "  WHERE kind = %(kind)s AND ref = %(ref)s AND status IN ('failing', 'parked'))"
            " INSERT INTO dead_letters (kind, ref, payload, error, attempts, first_failed_at, last_failed_at, status)"
            " VALUES (%(kind)s, %(ref)s, %(payload)s, %(error)s, 1, %(now)s, %(now)s,"
            "  CASE WHEN %(max)s <= 1 THEN 'parked' ELSE 'failing' END)"
            " ON CONFLICT (kind, ref) WHERE status IN ('failing', 'parked') DO UPDATE SET"
            "  error = EXCLUDED.error, last_failed_at = EXCLUDED.last_failed_at,"
            "  attempts = dead_letters.attempts + 1,"
            "  status = CASE WHEN dead_letters.attempts + 1 >= %(max)s THEN 'parked' ELSE dead_letters.status END"
            " RETURNING id, status, (SELECT status FROM before)",
            {
                "kind": kind,
                "ref": ref,
                "payload": Jsonb(dict(payload)),
                "error": error[:MAX_ERROR_CHARS],
                "now": now,
                "max": max_attempts,
            },
        ).fetchone()
        assert row is not None
        dead_id, status, was = row
        if status == "parked" and was != "parked":
            _audit(conn, actor_id=None, action="dead_letter.parked", dead_id=dead_id, now=now, kind=kind, ref=ref)
    return str(status)


def park(
    conn: psycopg.Connection, *, kind: str, ref: str, payload: Mapping[str, Any], error: str, now: datetime
) -> None:
    """Parks work that will never succeed by retrying (e.g. a malformed stream entry) at once."""
    record_failure(conn, kind=kind, ref=ref, payload=payload, error=error, now=now, max_attempts=1)


def clear(conn: psycopg.Connection, *, kind: str, ref: str) -> None:
    """The work succeeded after failing: its failing (not parked) record is dropped."""
    conn.execute("DELETE FROM dead_letters WHERE kind = %s AND ref = %s AND status = 'failing'", (kind, ref))


def live(conn: psycopg.Connection, *, limit: int = 200) -> list[DeadLetter]:
    """Parked then failing work, newest failure first."""
    with conn.cursor(row_factory=class_row(DeadLetter)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE status IN ('failing', 'parked')"
            " ORDER BY status = 'parked' DESC, last_failed_at DESC LIMIT %s",
            (limit,),
        ).fetchall()


def handle(conn: psycopg.Connection, *, dead_id: int, action: str, actor_id: int, now: datetime) -> DeadLetter:
    """Marks a live dead letter 'retried' or 'dismissed' by ``actor_id`` (audited); returns it as it was.

    The caller puts a retried stream entry back on the stream; a retried clock runs at the next tick.
    """
    status = OUTCOMES[action]
    with conn.transaction(), conn.cursor(row_factory=class_row(DeadLetter)) as cur:
        letter = cur.execute(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE id = %s AND status IN ('failing', 'parked') FOR UPDATE",
            (dead_id,),
        ).fetchone()
        if letter is None:
            raise DeadLetterNotFound(f"no failing or parked work has id {dead_id}")
        cur.execute(
            "UPDATE dead_letters SET status = %s, handled_by = %s, handled_at = %s WHERE id = %s",
            (status, actor_id, now, dead_id),
        )
        _audit(conn, actor_id=actor_id, action=f"dead_letter.{status}", dead_id=dead_id, now=now,
               kind=letter.kind, ref=letter.ref)  # fmt: skip
    return letter


def _audit(
    conn: psycopg.Connection, *, actor_id: int | None, action: str, dead_id: int, now: datetime, kind: str, ref: str
) -> None:
    conn.execute(
        "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail)"
        " VALUES (%s, %s, %s, 'dead_letter', %s, %s)",
        (now, actor_id, action, str(dead_id), Jsonb({"kind": kind, "ref": ref})),
    )
