"""The alert as a value and its response targets per risk band, shared by lifecycle and runners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from vward.config import Settings
from vward.vocabulary import ALERT_RISKS, EMERGENCY, OPEN_STATUSES, ResponseKind, Risk

RESPONSE_KINDS: tuple[str, ...] = tuple(ResponseKind)


def risk_rank(risk: str) -> int:
    """Position in ALERT_RISKS, so that risks compare by severity."""
    return ALERT_RISKS.index(risk)


@dataclass(frozen=True)
class Targets:
    """Acknowledge and response targets per risk band, and how often a missed target is re-announced."""

    ack: dict[str, timedelta]
    response: dict[str, timedelta]
    reminder_interval: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Targets:
        """'low' alerts (a trend or missed readings below the aggregate bands) use the low-medium targets;
        'emergency' (NPEWS only) is due at once, as the chart's emergency call."""
        ack: dict[str, timedelta] = {
            Risk.HIGH: settings.target_high_ack,
            Risk.MEDIUM: settings.target_medium_ack,
            Risk.LOW_MEDIUM: settings.target_low_medium_ack,
            Risk.LOW: settings.target_low_medium_ack,
            EMERGENCY: settings.npews_emergency_review,
        }
        response: dict[str, timedelta] = {
            Risk.HIGH: settings.target_high_response,
            Risk.MEDIUM: settings.target_medium_response,
            Risk.LOW_MEDIUM: settings.target_low_medium_response,
            Risk.LOW: settings.target_low_medium_response,
            EMERGENCY: settings.npews_emergency_review,
        }
        return cls(ack=ack, response=response, reminder_interval=settings.escalation_reminder_interval)

    def due(self, risk: str, since: datetime) -> tuple[datetime, datetime]:
        """(acknowledge due, response due) for an alert of ``risk`` raised or escalated at ``since``."""
        return since + self.ack[risk], since + self.response[risk]


@dataclass(frozen=True)
class Alert:
    """One row of the ``alerts`` table (see migration 0002 for the meaning of each column)."""

    id: int
    admission_id: int
    trigger: str
    risk: str
    status: str
    news2_total: int | None
    news2_complete: bool | None
    sub_scores: tuple[int | None, ...] | None
    observed_at: datetime | None
    raised_at: datetime
    acknowledge_due_at: datetime | None
    response_due_at: datetime | None
    acknowledged_at: datetime | None = None
    acknowledged_by: int | None = None
    responded_at: datetime | None = None
    responded_by: int | None = None
    response_kind: str | None = None
    resolved_at: datetime | None = None
    resolved_by: int | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    next_reminder_at: datetime | None = None
    snoozed_until: datetime | None = None
    snoozed_by: int | None = None
    snooze_reason: str | None = None
    updated_at: datetime | None = None
    score: str = "news2"  # which early warning score raised it: news2 or npews
    npews_total: int | None = None  # NPEWS alerts carry their total here (news2_total stays NULL)
    npews_complete: bool | None = None
    reason: str | None = None  # NPEWS: every criterion that set the level, in words, highest first
    awaiting_grade: bool = False  # a carer's W or a clinician's "just not right" waits for a clinician's level
    graded_by: int | None = None
    graded_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


ALERT_COLUMNS: tuple[str, ...] = tuple(Alert.__dataclass_fields__)
