"""NPEWS escalation: "respond as per the highest level based on a change in any one of these criteria".

Pure: the caller says what changed (a new suspicion, a new AVPU value, a carer's answer, a clinician's
grade) and gets back the level with every reason in words, highest first. The PEWS total is one
criterion among several; the chart has no rule for a single parameter scoring 4 beyond the total.

A carer's W ("worse") or a clinician's "just not right" does not set a level by itself: the chart asks a
clinician to choose it. Until one has (``clinician_level`` None), ``awaiting_grade`` is True and the
level is that of the other criteria alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from alerting.errors import AlertingError
from alerting.npews import CARER_ANSWERS, LEVELS
from vward.config import Settings

_TOTAL_BANDS = ("0", "1-4", "5-8", "9-12", "13 or more")  # the chart's PEWS column, by level
_AVPU_LEVELS = {"A": 0, "V": 3, "P": 4, "U": 4}


class EscalationInputError(AlertingError, ValueError):
    """An answer, AVPU value or level outside the chart's vocabulary."""


@dataclass(frozen=True)
class Escalation:
    """The level to respond at (one of ``LEVELS``) and why, highest reason first."""

    level: str
    reasons: tuple[str, ...]
    awaiting_grade: bool  # a carer's W or a clinician's concern waits for a clinician to choose the level


@dataclass(frozen=True)
class ResponseTarget:
    """What the chart's response column asks for at one level; None where it asks for nothing timed."""

    review_within: timedelta | None
    reassess_within: timedelta | None


def escalate(
    *,
    total: int,
    complete: bool = True,
    new_sepsis_suspicion: bool = False,
    new_septic_shock_suspicion: bool = False,
    avpu_changed_to: str | None = None,
    abnormal_pupils: bool = False,
    carer_answer: str | None = None,
    clinical_concern: bool = False,
    clinician_level: str | None = None,
) -> Escalation:
    """The highest level any one criterion reaches; ``total`` is a floor when ``complete`` is False."""
    if avpu_changed_to is not None and avpu_changed_to not in _AVPU_LEVELS:
        raise EscalationInputError(f"AVPU must be one of {', '.join(_AVPU_LEVELS)}")
    if carer_answer is not None and carer_answer not in CARER_ANSWERS:
        raise EscalationInputError(f"the carer's answer must be one of {', '.join(CARER_ANSWERS)}")
    if clinician_level is not None and clinician_level not in LEVELS:
        raise EscalationInputError(f"the clinician's level must be one of {', '.join(LEVELS)}")
    if total < 0:
        raise EscalationInputError(f"a PEWS total is never negative, got {total}")

    by_total = int(total >= 1) + int(total >= 5) + int(total >= 9) + int(total >= 13)
    floor = "" if complete else "at least "
    found = [(by_total, f"PEWS {floor}{total} ({_TOTAL_BANDS[by_total]})")] if by_total else []
    if new_sepsis_suspicion:
        found.append((2, "new suspicion of sepsis"))
    if new_septic_shock_suspicion:
        found.append((3, "new suspicion of septic shock"))
    if avpu_changed_to is not None and _AVPU_LEVELS[avpu_changed_to]:
        found.append((_AVPU_LEVELS[avpu_changed_to], f"AVPU changed to {avpu_changed_to}"))
    if abnormal_pupils:
        found.append((4, "abnormal pupils"))
    concerns = []
    if carer_answer == "W":
        concerns.append("the carer says the child is worse (W)")
    if clinical_concern:
        concerns.append("a clinician feels the child is just not right")
    if clinician_level is not None:
        why = " and ".join(concerns) or "a clinician's trigger"
        found.append((LEVELS.index(clinician_level), f"graded {clinician_level} by a clinician: {why}"))
    awaiting = bool(concerns) and clinician_level is None
    found.sort(key=lambda pair: -pair[0])
    reasons = [f"{LEVELS[level]}: {why}" for level, why in found]
    if awaiting:
        reasons.insert(0, f"{' and '.join(concerns)}: a clinician must choose the level")
    return Escalation(level=LEVELS[found[0][0]] if found else "none", reasons=tuple(reasons), awaiting_grade=awaiting)


def response_target(level: str, settings: Settings) -> ResponseTarget:
    """The response the chart asks for at ``level``, with the times configured in ``settings``."""
    targets = {
        "none": ResponseTarget(review_within=None, reassess_within=None),
        "low": ResponseTarget(review_within=None, reassess_within=settings.npews_low_reassess),
        "medium": ResponseTarget(settings.npews_medium_review, settings.npews_medium_reassess),
        "high": ResponseTarget(settings.npews_high_review, settings.npews_high_reassess),
        "emergency": ResponseTarget(settings.npews_emergency_review, settings.npews_emergency_reassess),
    }
    if level not in targets:
        raise EscalationInputError(f"level must be one of {', '.join(LEVELS)}")
    return targets[level]
