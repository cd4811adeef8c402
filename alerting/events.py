"""The lifecycle's vocabulary as frozen data: events that happen to an alert and the effects they cause."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Acknowledge:
    actor_id: int


@dataclass(frozen=True)
class AddNote:
    actor_id: int
    body: str


@dataclass(frozen=True)
class Respond:
    actor_id: int
    kind: str


@dataclass(frozen=True)
class Resolve:
    actor_id: int


@dataclass(frozen=True)
class Snooze:
    actor_id: int | None
    until: datetime | None
    reason: str | None


@dataclass(frozen=True)
class Unsnooze:
    actor_id: int


@dataclass(frozen=True)
class Tick:
    """The clock: targets passing, reminders, snooze expiry."""

    reminder_interval: timedelta


@dataclass(frozen=True)
class RiskIncreased:
    risk: str
    news2_total: int
    news2_complete: bool
    sub_scores: tuple[int | None, ...]
    observed_at: datetime
    acknowledge_due_at: datetime
    response_due_at: datetime


@dataclass(frozen=True)
class AdmissionEnded:
    """The patient was discharged from the virtual ward: nobody is left to respond to."""

    actor_id: int
    outcome: str


@dataclass(frozen=True)
class ReadingsResumed:
    """An observation set arrived for an admission whose missed-readings alert is open."""

    observed_at: datetime


Event = (
    Acknowledge | AddNote | Respond | Resolve | Snooze | Unsnooze | Tick | RiskIncreased | AdmissionEnded
    | ReadingsResumed
)  # fmt: skip


@dataclass(frozen=True)
class Record:
    """An ``alert_events`` row and its audit entry; ``notify``: who gets a push (nurses, coordinators)."""

    event: str
    from_status: str | None
    to_status: str
    actor_id: int | None
    note: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class SaveNote:
    author_id: int
    body: str


Effect = Record | SaveNote
