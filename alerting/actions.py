"""Clinician actions on an alert (the runner behind the web UI): lock, ``transition``, write.

Everything is written in the caller's transaction: the alert row, its ``alert_events`` row (the outbox),
any note and the audit entry, so an action is either wholly recorded or not at all. Bad input raises the
``alerting.errors`` tree, which the UI turns into a 4xx.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from alerting import escalation_plans, queries
from alerting.errors import InvalidAction
from alerting.lifecycle import Acknowledge, AddNote, AdmissionEnded, Event, Resolve, Respond, Snooze, Unsnooze
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
    if action == "respond" and response_kind is not None:
        escalation_plans.check_response(conn, alert_id=alert_id, response_kind=response_kind)
    return queries.apply_event(conn, alert=alert, event=event, now=now)[0]


def close_on_discharge(
    conn: psycopg.Connection, *, admission_id: int, actor_id: int, outcome: str, now: datetime
) -> int | None:
    """Closes the admission's open alert, if any, as part of its discharge; returns the alert's id.

    Without this a discharged patient's alert would stay in the queue and keep escalating to coordinators.
    """
    alert = queries.lock_open_alerts(conn, admission_ids=[admission_id]).get(admission_id)
    if alert is None:
        return None
    queries.apply_event(conn, alert=alert, event=AdmissionEnded(actor_id, outcome), now=now)
    return alert.id
