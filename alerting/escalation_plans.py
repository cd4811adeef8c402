"""Escalation plans (palliative and end-of-life care, a ReSPECT decision): recorded, audited, obeyed.

A named clinician records what the patient's care should be when they deteriorate ("symptom control at
home, no transfer to hospital"), with the reason and a review date. A plan never changes a score: scores
are still computed, stored and shown. It changes two things about the patient's alerts:

- **the responses offered**: with no hospital transfer, "999 / hospital transfer" (``emergency_999``) is
  not a response a nurse can record (``response_kinds``; ``check_response`` enforces it at the action);
- **who is told**: the ward's team only. In vward every push for an alert already goes to the on-duty
  nurses and coordinators *of the alert's ward* (``user_wards``, see ``hub``); nothing routes an alert to
  anyone outside the ward, so the plan keeps that and adds nothing beyond it: no coordinator of another
  ward, and no ambulance (the 999 response is withheld), is brought in by the plan patient's alerts.

Plans are per admission; a new plan supersedes the current one, none is deleted (the history is the audit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg.types.json import Jsonb

from alerting.errors import InvalidAction
from alerting.model import RESPONSE_KINDS

TRANSFER_RESPONSE = "emergency_999"


@dataclass(frozen=True)
class Plan:
    id: int
    admission_id: int
    plan: str
    reason: str
    hospital_transfer: bool
    review_on: date
    recorded_by: int
    recorded_at: datetime


def response_kinds(hospital_transfer: bool | None) -> tuple[str, ...]:
    """The responses a nurse may record: all of them, unless a plan rules out transfer to hospital."""
    if hospital_transfer is False:
        return tuple(k for k in RESPONSE_KINDS if k != TRANSFER_RESPONSE)
    return RESPONSE_KINDS


def current_plan(conn: psycopg.Connection, *, admission_id: int) -> Plan | None:
    row = conn.execute(
        "SELECT id, admission_id, plan, reason, hospital_transfer, review_on, recorded_by, recorded_at"
        " FROM escalation_plans WHERE admission_id = %s AND superseded_at IS NULL",
        (admission_id,),
    ).fetchone()
    return None if row is None else Plan(*row)


def check_response(conn: psycopg.Connection, *, alert_id: int, response_kind: str) -> None:
    """Refuses a response the patient's plan rules out (InvalidAction, a 409 at the web layer)."""
    row = conn.execute(
        "SELECT ep.plan, ep.hospital_transfer FROM alerts a JOIN escalation_plans ep"
        " ON ep.admission_id = a.admission_id AND ep.superseded_at IS NULL WHERE a.id = %s",
        (alert_id,),
    ).fetchone()
    if row is not None and response_kind not in response_kinds(row[1]):
        raise InvalidAction(f"the patient's escalation plan rules this response out: {row[0]}")


def record_plan(
    conn: psycopg.Connection,
    *,
    admission_id: int,
    plan: str,
    reason: str,
    hospital_transfer: bool,
    review_on: date,
    actor_id: int,
    now: datetime,
) -> int:
    """Records a plan (superseding the current one) and its audit entry in the caller's transaction."""
    plan, reason = plan.strip(), reason.strip()
    if not plan or not reason:
        raise InvalidAction("an escalation plan needs the plan and its reason")
    if review_on < now.date():
        raise InvalidAction("the review date must not be in the past")
    conn.execute(
        "UPDATE escalation_plans SET superseded_at = %s WHERE admission_id = %s AND superseded_at IS NULL",
        (now, admission_id),
    )
    row = conn.execute(
        "INSERT INTO escalation_plans"
        " (admission_id, plan, reason, hospital_transfer, review_on, recorded_by, recorded_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (admission_id, plan, reason, hospital_transfer, review_on, actor_id, now),
    ).fetchone()
    assert row is not None
    detail = {"admission_id": admission_id, "plan": plan, "reason": reason, "hospital_transfer": hospital_transfer}
    conn.execute(
        "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail)"
        " VALUES (%s, %s, 'escalation_plan.recorded', 'escalation_plan', %s, %s)",
        (now, actor_id, str(row[0]), Jsonb({**detail, "review_on": review_on.isoformat()})),
    )
    return int(row[0])
