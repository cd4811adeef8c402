"""The audit trail: every clinical action and every view of a patient record, and the admins' search of it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def record(
    conn: psycopg.Connection,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: object | None,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor_id, action, entity, entity_id, detail) VALUES (%s, %s, %s, %s, %s)",
        (actor_id, action, entity, None if entity_id is None else str(entity_id), Jsonb(detail or {})),
    )


def search(
    conn: psycopg.Connection,
    *,
    username: str | None = None,
    patient_id: int | None = None,
    action: str | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Newest first; a patient matches rows about the patient and rows whose detail names the patient."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT l.id, l.at, u.username, l.action, l.entity, l.entity_id, l.detail FROM audit_log l"
            " LEFT JOIN users u ON u.id = l.actor_id"
            " WHERE (%(username)s::text IS NULL OR u.username = %(username)s)"
            "   AND (%(patient)s::text IS NULL OR (l.entity = 'patient' AND l.entity_id = %(patient)s)"
            "        OR l.detail->>'patient_id' = %(patient)s)"
            "   AND (%(action)s::text IS NULL OR l.action = %(action)s)"
            "   AND (%(from)s::date IS NULL OR l.at >= %(from)s::date)"
            "   AND (%(to)s::date IS NULL OR l.at < %(to)s::date)"
            " ORDER BY l.at DESC, l.id DESC LIMIT %(limit)s",
            {
                "username": username,
                "patient": None if patient_id is None else str(patient_id),
                "action": action,
                "from": day_from,
                "to": None if day_to is None else day_to + timedelta(days=1),
                "limit": limit,
            },
        )
        .fetchall()
    )
