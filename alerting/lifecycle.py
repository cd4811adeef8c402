"""The alert lifecycle as a pure state machine: ``transition(alert, event, now) -> (alert, effects)``.

raised → acknowledged → responded → resolved. A missed acknowledge or response target escalates the alert
to the ward coordinators (``escalated``), then re-announces it every reminder interval (``reminder``) until
someone acknowledges (for the response target: until someone responds). ``escalated_at`` records the last
escalation, so "this target was already escalated" is ``escalated_at >= due``: no extra column needed.

Two events close an alert from any open status without a response: the patient's discharge
(``AdmissionEnded``, by the coordinator who discharged), and readings arriving again for a missed-readings
alert that no observation set has escalated (``ReadingsResumed``, by the system; the set that arrived is
then judged on its own).

A higher risk (from a new observation set) returns the alert to ``raised`` with new due times for the new
band: a worse patient needs a fresh acknowledgement. Snoozing (after acknowledgement, by a named
clinician, with a reason and an expiry) pauses reminders and escalation; a higher risk breaks through it.
Effects are data; the runners in ``actions``/``raising``/``hub`` write them to PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from alerting.errors import InvalidAction, InvalidTransition
from alerting.events import (
    Acknowledge,
    AddNote,
    AdmissionEnded,
    Effect,
    Event,
    ReadingsResumed,
    Record,
    Resolve,
    Respond,
    RiskIncreased,
    SaveNote,
    Snooze,
    Tick,
    Unsnooze,
)
from alerting.model import Alert, Targets, risk_rank
from vward.vocabulary import MAX_NOTE_CHARS, AlertStatus, ResponseKind, Risk, Trigger

__all__ = [
    "MAX_SNOOZE",
    "Acknowledge",
    "AddNote",
    "AdmissionEnded",
    "Effect",
    "Event",
    "ReadingsResumed",
    "Record",
    "Resolve",
    "Respond",
    "RiskIncreased",
    "SaveNote",
    "Snooze",
    "Tick",
    "Unsnooze",
    "ends_with_readings",
    "raise_alert",
    "transition",
    "unacknowledged",
]

MAX_SNOOZE = timedelta(hours=24)


def raise_alert(
    *,
    admission_id: int,
    trigger: str,
    risk: str,
    news2_total: int | None,
    news2_complete: bool | None,
    sub_scores: tuple[int | None, ...] | None,
    observed_at: datetime | None,
    now: datetime,
    targets: Targets,
) -> tuple[Alert, list[Effect]]:
    """A new alert (id 0 until stored) with due times for its band, announced to the ward's nurses."""
    ack_due, response_due = targets.due(risk, now)
    alert = Alert(
        id=0,
        admission_id=admission_id,
        trigger=trigger,
        risk=risk,
        status=AlertStatus.RAISED,
        news2_total=news2_total,
        news2_complete=news2_complete,
        sub_scores=sub_scores,
        observed_at=observed_at,
        raised_at=now,
        acknowledge_due_at=ack_due,
        response_due_at=response_due,
        updated_at=now,
    )
    detail = {"trigger": trigger, "news2_total": news2_total, "complete": news2_complete}
    return alert, [Record("raised", None, AlertStatus.RAISED, None, detail=detail, notify=("nurses",))]


def transition(alert: Alert, event: Event, now: datetime) -> tuple[Alert, list[Effect]]:
    """Applies ``event`` at ``now``; raises InvalidTransition/InvalidAction when it is not allowed."""
    if not alert.is_open and not isinstance(event, AddNote):
        raise InvalidTransition(f"alert {alert.id} is resolved")
    match event:
        case Acknowledge(actor):
            _require(alert, (AlertStatus.RAISED,), "acknowledge")
            new = replace(
                alert,
                status=AlertStatus.ACKNOWLEDGED,
                acknowledged_at=now,
                acknowledged_by=actor,
                next_reminder_at=None,
            )
            return _done(new, now, Record("acknowledged", alert.status, new.status, actor))
        case AddNote(actor, body):
            text = body.strip()
            if not text or len(text) > MAX_NOTE_CHARS:
                raise InvalidAction(f"a note needs 1 to {MAX_NOTE_CHARS} characters")
            return _done(
                alert,
                now,
                Record("note_added", alert.status, alert.status, actor, note=text),
                SaveNote(actor, text),
            )
        case Respond(actor, kind):
            if kind not in tuple(ResponseKind):
                raise InvalidAction(f"response kind must be one of {', '.join(ResponseKind)}")
            _require(alert, (AlertStatus.ACKNOWLEDGED,), "respond to")
            new = replace(
                alert,
                status=AlertStatus.RESPONDED,
                responded_at=now,
                responded_by=actor,
                response_kind=kind,
                next_reminder_at=None,
            )
            return _done(new, now, Record("responded", alert.status, new.status, actor, detail={"kind": kind}))
        case Resolve(actor):
            _require(alert, (AlertStatus.RESPONDED,), "resolve")
            return _done(
                _resolved(alert, actor, now), now, Record("resolved", alert.status, AlertStatus.RESOLVED, actor)
            )
        case AdmissionEnded(actor, outcome):
            detail = {"outcome": outcome}
            record = Record("closed_on_discharge", alert.status, AlertStatus.RESOLVED, actor, detail=detail)
            return _done(_resolved(alert, actor, now), now, record)
        case ReadingsResumed(observed_at):
            if not ends_with_readings(alert):
                raise InvalidTransition(f"alert {alert.id} is not an unescalated missed-readings alert")
            detail = {"observed_at": observed_at.isoformat()}
            return _done(
                _resolved(alert, None, now),
                now,
                Record("readings_resumed", alert.status, AlertStatus.RESOLVED, None, detail=detail),
            )
        case Snooze(actor, until, reason):
            return _snooze(alert, actor, until, reason, now)
        case Unsnooze(actor):
            if alert.snoozed_until is None:
                raise InvalidTransition(f"alert {alert.id} is not snoozed")
            return _done(_unsnoozed(alert), now, Record("unsnoozed", alert.status, alert.status, actor))
        case Tick(interval):
            return _tick(alert, interval, now)
        case RiskIncreased():
            return _risk_increased(alert, event, now)
    raise InvalidAction(f"unknown event {event!r}")


def ends_with_readings(alert: Alert) -> bool:
    """A missed-readings alert still at its own risk: readings arriving again answer it.

    Once an observation set has escalated it (a higher risk), it is a clinical alert and a nurse closes it.
    """
    return alert.trigger == Trigger.MISSED_READINGS and alert.risk == Risk.LOW


def _resolved(alert: Alert, actor: int | None, now: datetime) -> Alert:
    return replace(
        alert,
        status=AlertStatus.RESOLVED,
        resolved_at=now,
        resolved_by=actor,
        next_reminder_at=None,
        snoozed_until=None,
        snoozed_by=None,
        snooze_reason=None,
    )


def _require(alert: Alert, allowed: tuple[str, ...], verb: str) -> None:
    if alert.status not in allowed:
        raise InvalidTransition(f"cannot {verb} alert {alert.id}: it is {alert.status}")


def _done(alert: Alert, now: datetime, *effects: Effect) -> tuple[Alert, list[Effect]]:
    return replace(alert, updated_at=now), list(effects)


def unacknowledged(alert: Alert) -> Alert:
    """The alert with who acknowledged and responded, and its next reminder, cleared: a patient who got worse
    needs a fresh acknowledgement (a higher NEWS2 risk, or a clinician grading a child's alert higher)."""
    return replace(
        alert,
        acknowledged_at=None,
        acknowledged_by=None,
        responded_at=None,
        responded_by=None,
        response_kind=None,
        next_reminder_at=None,
    )


def _unsnoozed(alert: Alert) -> Alert:
    return replace(alert, snoozed_until=None, snoozed_by=None, snooze_reason=None)


def _snooze(
    alert: Alert, actor: int | None, until: datetime | None, reason: str | None, now: datetime
) -> tuple[Alert, list[Effect]]:
    """Snoozing silences a known, assessed alert: it must be acknowledged; says who, why, until when."""
    if actor is None:
        raise InvalidAction("a snooze needs the clinician who decides it")
    if not reason or not reason.strip():
        raise InvalidAction("a snooze needs a reason")
    if until is None or until <= now or until > now + MAX_SNOOZE:
        raise InvalidAction(f"a snooze needs an expiry in the future, at most {MAX_SNOOZE} ahead")
    _require(alert, (AlertStatus.ACKNOWLEDGED, AlertStatus.RESPONDED), "snooze")
    new = replace(alert, snoozed_until=until, snoozed_by=actor, snooze_reason=reason.strip(), next_reminder_at=None)
    return _done(
        new,
        now,
        Record(
            "snoozed",
            alert.status,
            alert.status,
            actor,
            note=reason.strip(),
            detail={"until": until.isoformat()},
        ),
    )


def _tick(alert: Alert, interval: timedelta, now: datetime) -> tuple[Alert, list[Effect]]:
    effects: list[Effect] = []
    if alert.snoozed_until is not None:
        if now < alert.snoozed_until:
            return alert, []
        alert = _unsnoozed(alert)
        if (
            alert.status == AlertStatus.ACKNOWLEDGED
            and alert.response_due_at is not None
            and now >= alert.response_due_at
        ):
            alert = replace(alert, next_reminder_at=now)  # an overdue response is re-announced at once
        effects.append(Record("snooze_expired", alert.status, alert.status, None, notify=("nurses",)))
    target = _missed_target(alert, now)
    if target is not None:
        alert = replace(
            alert,
            escalation_level=alert.escalation_level + 1,
            escalated_at=now,
            next_reminder_at=now + interval,
        )
        effects.append(
            Record(
                "escalated",
                alert.status,
                alert.status,
                None,
                detail={"target": target, "level": alert.escalation_level},
                notify=("nurses", "coordinators"),
            )
        )
    elif alert.next_reminder_at is not None and now >= alert.next_reminder_at:
        alert = replace(alert, escalation_level=alert.escalation_level + 1, next_reminder_at=now + interval)
        effects.append(
            Record(
                "reminder",
                alert.status,
                alert.status,
                None,
                detail={"level": alert.escalation_level},
                notify=("nurses", "coordinators"),
            )
        )
    if not effects:
        return alert, []
    return _done(alert, now, *effects)


def _missed_target(alert: Alert, now: datetime) -> str | None:
    """The target that has just passed and was not escalated yet: 'acknowledge', 'response' or None."""

    def missed(due: datetime | None) -> bool:
        return due is not None and now >= due and (alert.escalated_at is None or alert.escalated_at < due)

    if alert.status in (AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED) and missed(alert.response_due_at):
        return "response"  # checked first: after a late tick one escalation covers both targets
    if alert.status == AlertStatus.RAISED and missed(alert.acknowledge_due_at):
        return "acknowledge"
    return None


def _risk_increased(alert: Alert, event: RiskIncreased, now: datetime) -> tuple[Alert, list[Effect]]:
    if risk_rank(event.risk) <= risk_rank(alert.risk):
        raise InvalidTransition(f"alert {alert.id} is already {alert.risk}; {event.risk} is not higher")
    new = replace(
        unacknowledged(_unsnoozed(alert)),
        risk=event.risk,
        status=AlertStatus.RAISED,
        news2_total=event.news2_total,
        news2_complete=event.news2_complete,
        sub_scores=event.sub_scores,
        observed_at=event.observed_at,
        acknowledge_due_at=event.acknowledge_due_at,
        response_due_at=event.response_due_at,
    )
    detail = {"from_risk": alert.risk, "news2_total": event.news2_total, "complete": event.news2_complete}
    return _done(
        new, now, Record("risk_increased", alert.status, AlertStatus.RAISED, None, detail=detail, notify=("nurses",))
    )
