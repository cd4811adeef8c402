"""Clinician actions on an alert (the runner behind the web UI): lock, ``transition``, write.

Everything is written in the caller's transaction: the alert row, its ``alert_events`` row (the outbox),
any note and the audit entry, so an action is either wholly recorded or not at all. Bad input raises the
``alerting.errors`` tree, which the UI turns into a 4xx.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from alerting import queries
from alerting.errors import InvalidAction
from alerting.lifecycle import Acknowledge, AddNote, Event, Resolve, Respond, Snooze, Unsnooze, transition
from alerting.model import Alert

ACTIONS = ("acknowledge", "note", "respond", "resolve", "snooze", "unsnooze")


def build_event(
    action: str,
    *,
    actor_id: int,
    note: str | None,
    response_kind: str | None,
    snooze_until: datetime | None,
    snooze_reason: str | None,
) -> Event:
    """The lifecycle event for a UI action, with the arguments that action needs checked for presence."""
    match action:
        case "acknowledge":
            return Acknowledge(actor_id)
        case "note":
            if note is None:
                raise InvalidAction("a note needs text")
            return AddNote(actor_id, note)
        case "respond":
            if response_kind is None:
                raise InvalidAction("a response needs its kind")
            return Respond(actor_id, response_kind)
        case "resolve":
            return Resolve(actor_id)
        case "snooze":
            return Snooze(actor_id, snooze_until, snooze_reason)
        case "unsnooze":
            return Unsnooze(actor_id)
    raise InvalidAction(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")


def apply_action(
    conn: psycopg.Connection,
    *,
    alert_id: int,
    action: str,
    actor_id: int,
    now: datetime,
    note: str | None = None,
    response_kind: str | None = None,
    snooze_until: datetime | None = None,
    snooze_reason: str | None = None,
) -> Alert:
    """Applies one clinician action to the alert and returns the alert as it now stands."""
    event = build_event(
        action,
        actor_id=actor_id,
        note=note,
        response_kind=response_kind,
        snooze_until=snooze_until,
        snooze_reason=snooze_reason,
    )
    alert = queries.lock_alert(conn, alert_id=alert_id)
    new, effects = transition(alert, event, now)
    if new != alert:
        queries.update_alert(conn, alert=new)
    queries.write_effects(conn, alert=new, effects=effects, now=now)
    return new
