"""NPEWS alerts: a child's current set, and what came with it, through the same alert lifecycle as adults'.

The reading path calls :func:`record_child_sets` in its transaction after storing a batch, as it calls
``raising.record_scores`` for adults. Each child's escalation (``npews_escalation.escalate``: the highest
of the total's band, the specific concerns, the carer's answer and the clinician's trigger) decides:

- an alert is raised at medium, high or emergency (low, PEWS 1-4, is shown on the patient page with its
  reassessment time but pages nobody, as NEWS2's low band does: alert fatigue is a clinical risk);
- a carer's W or a clinician's "just not right" raises an alert that waits for a clinician's grade
  (``awaiting_grade``); until graded it carries at least the medium targets, so someone grades it within
  the chart's 30-minute review;
- one open alert per admission: a higher level escalates it (back to raised, new due times, a push), the
  same or lower does nothing, and a W on an open alert asks for a grade on it.

Due times come from the chart's response column (settings ``npews_*_review``, at low ``npews_low_reassess``):
the response is due then, the acknowledgement at the NEWS2 band's acknowledge target or then if sooner.
Grading (:func:`grade_alert`) is an audited clinician action that sets the level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import psycopg

from alerting import queries
from alerting.errors import InvalidAction, InvalidTransition
from alerting.lifecycle import (
    ReadingsResumed,
    Record,
    RiskIncreased,
    ends_with_readings,
    raise_alert,
    transition,
    unacknowledged,
)
from alerting.model import Alert, Targets, risk_rank
from alerting.npews import LEVELS
from alerting.npews_escalation import Escalation, escalate, response_target
from vward.config import Settings

RAISING_LEVELS = ("medium", "high", "emergency")
_AVPU_CHANGE = {"C": "V", "V": "V", "P": "P", "U": "U"}  # new confusion counts as a change to V


@dataclass(frozen=True)
class ChildSet:
    """A child's current NPEWS set, just scored, with the concerns and answers entered in this batch."""

    admission_id: int
    observed_at: datetime
    total: int
    complete: bool
    sub_scores: tuple[int | None, ...]  # npews.PARAMETERS order, None = missing or stale
    avpu: str | None = None  # the set's ACVPU letter
    carer_answer: str | None = None
    clinical_concern: bool = False
    sepsis_suspicion: bool = False
    abnormal_pupils: bool = False


def assess(s: ChildSet) -> Escalation:
    """The chart's escalation for this set. A child at home is alert (A) unless a plan says otherwise, so
    any V, P or U in the set is taken as the chart's "AVPU change"."""
    return escalate(
        total=s.total,
        complete=s.complete,
        new_sepsis_suspicion=s.sepsis_suspicion,
        avpu_changed_to=_AVPU_CHANGE.get(s.avpu or ""),
        abnormal_pupils=s.abnormal_pupils,
        carer_answer=s.carer_answer,
        clinical_concern=s.clinical_concern,
    )


def alert_risk(escalation: Escalation) -> str | None:
    """The alert risk an escalation raises, or None: at least medium while it awaits a clinician's grade."""
    if escalation.awaiting_grade:
        return LEVELS[max(LEVELS.index(escalation.level), LEVELS.index("medium"))]
    return escalation.level if escalation.level in RAISING_LEVELS else None


def due_times(risk: str, settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """(acknowledge due, response due) for an NPEWS alert at ``risk``: the response by the chart's review
    time (at low, which asks for no review, by its reassessment time), acknowledged by then or sooner."""
    target = response_target(risk, settings)
    respond_within = target.review_within if target.review_within is not None else target.reassess_within
    assert respond_within is not None  # every level an alert can have asks for one or the other
    ack = min(Targets.from_settings(settings).ack[risk], respond_within)
    return now + ack, now + respond_within


def record_child_sets(conn: psycopg.Connection, sets: Sequence[ChildSet], *, settings: Settings, now: datetime) -> None:
    """Raises or escalates each child's alert inside the caller's transaction (no commit)."""
    if not sets:
        return
    targets = Targets.from_settings(settings)
    open_alerts = queries.lock_open_alerts(conn, admission_ids=sorted(s.admission_id for s in sets))
    for s in sorted(sets, key=lambda s: s.admission_id):
        current = open_alerts.get(s.admission_id)
        if current is not None and ends_with_readings(current):
            queries.apply_event(conn, alert=current, event=ReadingsResumed(s.observed_at), now=now)
            current = None
        escalation = assess(s)
        risk = alert_risk(escalation)
        if risk is None:
            continue
        if current is None:
            alert, effects = raise_alert(
                admission_id=s.admission_id,
                trigger="npews_concern" if escalation.awaiting_grade else "npews",
                risk=risk,
                news2_total=None,
                news2_complete=None,
                sub_scores=s.sub_scores,
                observed_at=s.observed_at,
                now=now,
                targets=targets,
            )
            ack_due, response_due = due_times(risk, settings, now)
            alert = _with_npews(
                replace(alert, acknowledge_due_at=ack_due, response_due_at=response_due),
                s,
                escalation,
                awaiting_grade=escalation.awaiting_grade,
            )
            if queries.insert_raised(conn, alert=alert, effects=effects, now=now):
                continue
            current = queries.lock_open_alerts(conn, admission_ids=[s.admission_id])[s.admission_id]
        _update_open(conn, current, s, escalation, risk, settings=settings, now=now)


def _with_npews(alert: Alert, s: ChildSet, escalation: Escalation, *, awaiting_grade: bool) -> Alert:
    return replace(
        alert,
        score="npews",
        news2_total=None,
        news2_complete=None,
        npews_total=s.total,
        npews_complete=s.complete,
        reason="; ".join(escalation.reasons),
        awaiting_grade=awaiting_grade,
    )


def _update_open(
    conn: psycopg.Connection,
    alert: Alert,
    s: ChildSet,
    escalation: Escalation,
    risk: str,
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """A higher level escalates the open alert; a new W or "just not right" on it asks for a grade."""
    if risk_rank(risk) > risk_rank(alert.risk):
        ack_due, response_due = due_times(risk, settings, now)
        event = RiskIncreased(
            risk=risk,
            news2_total=s.total,  # the event's score fields; _with_npews moves them to the NPEWS columns
            news2_complete=s.complete,
            sub_scores=s.sub_scores,
            observed_at=s.observed_at,
            acknowledge_due_at=ack_due,
            response_due_at=response_due,
        )
        new, effects = transition(alert, event, now)
        new = _with_npews(new, s, escalation, awaiting_grade=alert.awaiting_grade or escalation.awaiting_grade)
    elif escalation.awaiting_grade and not alert.awaiting_grade:
        new = replace(alert, awaiting_grade=True, reason="; ".join(escalation.reasons), updated_at=now)
        record = Record("grade_requested", alert.status, alert.status, None, note=new.reason, notify=("nurses",))
        effects = [record]
    else:
        return
    queries.update_alert(conn, alert=new)
    queries.write_effects(conn, alert=new, effects=effects, now=now)


def grade_alert(
    conn: psycopg.Connection, *, alert_id: int, level: str, actor_id: int, settings: Settings, now: datetime
) -> Alert:
    """A clinician chooses the level of an alert that awaits a grade; audited like every alert action.

    The level is the higher of the grade and the alert's PEWS total band ("the highest wins"); a grade of
    none keeps the alert open at low, for the nurse to resolve with a note. A higher level returns the alert
    to raised with new due times and a push; a lower one keeps its status with due times for the new level.
    """
    if level not in LEVELS:
        raise InvalidAction(f"level must be one of {', '.join(LEVELS)}")
    alert = queries.lock_alert(conn, alert_id=alert_id)
    if not alert.is_open or not alert.awaiting_grade:
        raise InvalidTransition(f"alert {alert_id} does not wait for a clinician's grade")
    escalation = escalate(total=alert.npews_total or 0, complete=bool(alert.npews_complete), clinician_level=level)
    risk = escalation.level if escalation.level != "none" else "low"
    higher = risk_rank(risk) > risk_rank(alert.risk)
    ack_due, response_due = due_times(risk, settings, now)
    new = replace(
        alert,
        risk=risk,
        status="raised" if higher else alert.status,
        awaiting_grade=False,
        graded_by=actor_id,
        graded_at=now,
        reason="; ".join(escalation.reasons),
        acknowledge_due_at=ack_due,
        response_due_at=response_due,
        updated_at=now,
    )
    if higher:  # a worse child needs a fresh acknowledgement, as when a new set raises the level
        new = unacknowledged(new)
    record = Record(
        "graded",
        alert.status,
        new.status,
        actor_id,
        detail={"level": level, "from_risk": alert.risk},
        notify=("nurses",) if higher else (),
    )
    queries.update_alert(conn, alert=new)
    queries.write_effects(conn, alert=new, effects=[record], now=now)
    return new
