"""Whether a well-formed reading may be stored: its measurement time against now, the late window and the
admission. Pure: ``now`` is a parameter. Every door applies these checks: ingest (quarantining a refused
reading), hand entry (a 400 with the reason), and any door to come.

The values themselves are checked by the contract (``vward.contract.Reading``: plausible bounds, at least
one vital sign, diastolic below systolic) before a reading gets here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Refusal(StrEnum):
    """Why a reading is refused; the values are the quarantine table's reasons."""

    IMPOSSIBLE_VALUE = "impossible_value"
    FUTURE_TIMESTAMP = "future_timestamp"
    TOO_LATE = "too_late"
    BEFORE_ADMISSION = "before_admission"


@dataclass(frozen=True, slots=True)
class TimeLimits:
    late_window: timedelta  # a reading measured longer ago than this is refused (VWARD_INGEST_LATE_WINDOW)
    future_tolerance: timedelta  # clock skew allowed for a reading from "the future"


def check_time(
    measured_at: datetime, admitted_at: datetime | None, *, now: datetime, limits: TimeLimits
) -> Refusal | None:
    """Why a reading measured at ``measured_at`` must be refused, if it must."""
    if measured_at > now + limits.future_tolerance:
        return Refusal.FUTURE_TIMESTAMP
    if measured_at < now - limits.late_window:
        return Refusal.TOO_LATE
    if admitted_at is not None and measured_at < admitted_at:
        return Refusal.BEFORE_ADMISSION
    return None


EXPLANATIONS: dict[Refusal, str] = {
    Refusal.IMPOSSIBLE_VALUE: "a value is outside what a living patient can produce",
    Refusal.FUTURE_TIMESTAMP: "the measurement time is in the future",
    Refusal.TOO_LATE: "the measurement time is older than the late window",
    Refusal.BEFORE_ADMISSION: "the measurement time is before the admission",
}
