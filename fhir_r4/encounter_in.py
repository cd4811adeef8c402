"""FHIR in, the pure part for hospital systems: an ``Encounter`` telling us a former virtual-ward patient was
admitted to hospital (class ``IMP`` inpatient or ``EMER`` emergency), decoded into what the outcomes report
counts. No database and no clock; anything malformed is a ``BadRequest`` naming the element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fhir_r4 import codes
from fhir_r4.errors import BadRequest
from vward.nhs_number import InvalidNhsNumber, normalise
from vward.vocabulary import ENCOUNTER_CLASS_WORDS, ENCOUNTER_CLASSES

LONDON = ZoneInfo("Europe/London")
# An admission that has begun; planned, cancelled and entered-in-error Encounters are not admissions.
STATUSES = ("arrived", "triaged", "in-progress", "onleave", "finished")
MAX_HOSPITAL = 200
MAX_REASON = 500
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class HospitalAdmission:
    """One hospital admission: the London day it began, and the instant where the hospital gave one."""

    admitted_on: date
    admitted_at: datetime | None
    encounter_class: str
    hospital: str
    reason: str | None


@dataclass(frozen=True)
class PostedEncounter:
    identifier: tuple[str, str]
    nhs_number: str
    admission: HospitalAdmission


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _start(period: Any) -> tuple[date, datetime | None]:
    start = period.get("start") if isinstance(period, dict) else None
    if not isinstance(start, str):
        raise BadRequest("period.start is required (the day or moment the hospital admission began)")
    if _DAY.match(start):
        try:
            return date.fromisoformat(start), None
        except ValueError as exc:
            raise BadRequest(f"period.start: {start[:40]!r} is not a date") from exc
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"period.start: {start[:40]!r} is not a date or date-time") from exc
    if moment.tzinfo is None:
        raise BadRequest("period.start: a date-time needs a time zone")
    return moment.astimezone(LONDON).date(), moment


def _hospital(provider: Any) -> str:
    provider = provider if isinstance(provider, dict) else {}
    ident = provider.get("identifier")
    name = _text(provider.get("display")) or (_text(ident.get("value")) if isinstance(ident, dict) else None)
    if name is None:
        raise BadRequest("serviceProvider: the hospital's display (or identifier.value) is required")
    if len(name) > MAX_HOSPITAL:
        raise BadRequest(f"serviceProvider: at most {MAX_HOSPITAL} characters")
    return name


def _reason(reasons: Any) -> str | None:
    if not isinstance(reasons, list) or not reasons or not isinstance(reasons[0], dict):
        return None
    first = reasons[0]
    codings = [c for c in first.get("coding", []) if isinstance(c, dict)]
    text = _text(first.get("text")) or next((_text(c.get("display")) for c in codings if _text(c.get("display"))), None)
    if text is not None and len(text) > MAX_REASON:
        raise BadRequest(f"reasonCode: at most {MAX_REASON} characters")
    return text


def decode(body: Any) -> PostedEncounter:
    """The hospital admission an Encounter reports; a ``BadRequest`` naming what is wrong otherwise."""
    if not isinstance(body, dict) or body.get("resourceType") != "Encounter":
        raise BadRequest("POST an Encounter to /fhir/R4/Encounter")
    idents = [i for i in body.get("identifier") or [] if isinstance(i, dict) and _text(i.get("system"))]
    idents = [i for i in idents if _text(i.get("value"))]
    if not idents:
        raise BadRequest("identifier: a system and value are required (posting it again is a no-op)")
    identifier = (str(idents[0]["system"]).strip(), str(idents[0]["value"]).strip())
    if body.get("status") not in STATUSES:
        raise BadRequest(f"status: an admission that has begun ({', '.join(STATUSES)})")
    klass = body.get("class")
    if (
        not isinstance(klass, dict)
        or klass.get("system") != codes.ACT_CODE
        or klass.get("code") not in ENCOUNTER_CLASSES
    ):
        named = " or ".join(f"{c} ({ENCOUNTER_CLASS_WORDS[c]})" for c in ENCOUNTER_CLASSES)
        raise BadRequest(f"class: {codes.ACT_CODE} {named} is required")
    subject = body.get("subject")
    ident: Any = subject.get("identifier") if isinstance(subject, dict) else None
    if (
        not isinstance(ident, dict)
        or ident.get("system") != codes.NHS_NUMBER
        or not isinstance(ident.get("value"), str)
    ):
        raise BadRequest(f"subject.identifier: the patient's NHS number ({codes.NHS_NUMBER}) is required")
    try:
        nhs_number = normalise(ident["value"])
    except InvalidNhsNumber as exc:
        raise BadRequest(f"subject.identifier: {exc}") from exc
    admitted_on, admitted_at = _start(body.get("period"))
    admission = HospitalAdmission(
        admitted_on=admitted_on,
        admitted_at=admitted_at,
        encounter_class=str(klass["code"]),
        hospital=_hospital(body.get("serviceProvider")),
        reason=_reason(body.get("reasonCode")),
    )
    return PostedEncounter(identifier, nhs_number, admission)
