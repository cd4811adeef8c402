"""The alerting package's SQL: reading and writing alerts and applying lifecycle effects (keyword-only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from alerting.errors import AlertNotFound
from alerting.lifecycle import Effect, Event, Record, SaveNote, transition
from alerting.model import ALERT_COLUMNS, Alert
from vward import db

_COLS = sql.SQL(", ").join(sql.Identifier(c) for c in ALERT_COLUMNS)
_MUTABLE = tuple(c for c in ALERT_COLUMNS if c not in ("id", "admission_id", "raised_at"))


def _to_alert(row: dict[str, Any]) -> Alert:
    scores = row["sub_scores"]
    return Alert(**{**row, "sub_scores": tuple(scores) if scores is not None else None})


def lock_alert(conn: psycopg.Connection, *, alert_id: int) -> Alert:
    """The alert, locked for this transaction; AlertNotFound if there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL("SELECT {} FROM alerts WHERE id = %s FOR UPDATE").format(_COLS), (alert_id,)
        ).fetchone()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return _to_alert(row)


def lock_open_alerts(conn: psycopg.Connection, *, admission_ids: Sequence[int]) -> dict[int, Alert]:
    """The open alert of each admission that has one, locked (in id order, so lockers never deadlock)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql.SQL(
                "SELECT {} FROM alerts WHERE admission_id = ANY(%s::bigint[]) AND status <> 'resolved'"
                " ORDER BY id FOR UPDATE"
            ).format(_COLS),
            (db.bigint_array(admission_ids),),
        ).fetchall()
    return {r["admission_id"]: _to_alert(r) for r in rows}


def lock_due_alerts(conn: psycopg.Connection, *, now: datetime, limit: int) -> list[Alert]:
    """Open alerts whose clock has something to do at ``now``; rows another hub holds are skipped, and so
    are alerts whose clock is parked in ``dead_letters`` (it kept failing) until an admin retries it."""
    query = sql.SQL(
        "SELECT {} FROM alerts WHERE status <> 'resolved' AND ("
        " snoozed_until <= %(now)s OR (snoozed_until IS NULL AND ("
        "  next_reminder_at <= %(now)s"
        "  OR (status = 'raised' AND acknowledge_due_at <= %(now)s"
        "      AND (escalated_at IS NULL OR escalated_at < acknowledge_due_at))"
        "  OR (status IN ('raised', 'acknowledged') AND response_due_at <= %(now)s"
        "      AND (escalated_at IS NULL OR escalated_at < response_due_at)))))"
        " AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.kind = 'clock' AND d.ref = alerts.id::text"
        "  AND d.status = 'parked')"
        " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
    ).format(_COLS)
    with conn.cursor(row_factory=dict_row) as cur:
        return [_to_alert(r) for r in cur.execute(query, {"now": now, "limit": limit}).fetchall()]


def insert_alert(conn: psycopg.Connection, *, alert: Alert) -> int | None:
    """Stores a new alert; None when the admission already has an open one (another process won the race)."""
    values = {k: v for k, v in asdict(alert).items() if k != "id"}
    cols = [c for c in ALERT_COLUMNS if c != "id"]
    query = sql.SQL(
        "INSERT INTO alerts ({}) VALUES ({}) ON CONFLICT (admission_id) WHERE status <> 'resolved'"
        " DO NOTHING RETURNING id"
    ).format(sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join(map(sql.Placeholder, cols)))
    row = conn.execute(query, _params(values)).fetchone()
    return int(row[0]) if row else None


def insert_raised(conn: psycopg.Connection, *, alert: Alert, effects: Sequence[Effect], now: datetime) -> bool:
    """Stores a just-raised alert with its effects; False when another process raised one first."""
    new_id = insert_alert(conn, alert=alert)
    if new_id is None:
        return False
    write_effects(conn, alert=replace(alert, id=new_id), effects=effects, now=now)
    return True


def update_alert(conn: psycopg.Connection, *, alert: Alert) -> None:
    query = sql.SQL("UPDATE alerts SET {} WHERE id = %(id)s").format(
        sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in _MUTABLE)
    )
    conn.execute(query, _params(asdict(alert)))


def apply_event(conn: psycopg.Connection, *, alert: Alert, event: Event, now: datetime) -> tuple[Alert, list[Effect]]:
    """``transition`` the locked ``alert`` and write the outcome in the caller's transaction."""
    new, effects = transition(alert, event, now)
    if new != alert:
        update_alert(conn, alert=new)
    write_effects(conn, alert=new, effects=effects, now=now)
    return new, effects


def _params(values: dict[str, Any]) -> dict[str, Any]:
    scores = values.get("sub_scores")
    return {**values, "sub_scores": list(scores) if scores is not None else None}


def write_effects(conn: psycopg.Connection, *, alert: Alert, effects: Sequence[Effect], now: datetime) -> None:
    """Writes each effect: events (the outbox, published = false) with an audit row each, and notes."""
    for effect in effects:
        if isinstance(effect, Record):
            detail = {**effect.detail, "notify": list(effect.notify)}
            conn.execute(
                "INSERT INTO alert_events"
                " (alert_id, at, event, actor_id, from_status, to_status, risk, note, detail)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    alert.id,
                    now,
                    effect.event,
                    effect.actor_id,
                    effect.from_status,
                    effect.to_status,
                    alert.risk,
                    effect.note,
                    Jsonb(detail),
                ),
            )
            conn.execute(
                "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail)"
                " VALUES (%s, %s, %s, 'alert', %s, %s)",
                (
                    now,
                    effect.actor_id,
                    f"alert.{effect.event}",
                    str(alert.id),
                    Jsonb({"from": effect.from_status, "to": effect.to_status, "risk": alert.risk}),
                ),
            )
        elif isinstance(effect, SaveNote):
            conn.execute(
                "INSERT INTO alert_notes (alert_id, author_id, at, body) VALUES (%s, %s, %s, %s)",
                (alert.id, effect.author_id, now, effect.body),
            )
