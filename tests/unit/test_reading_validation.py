"""The reading path's time checks: one function every door applies (ingest maps it onto its quarantine reasons)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.decode import Reason
from readings.validation import EXPLANATIONS, Refusal, TimeLimits, check_time

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = TimeLimits(late_window=timedelta(hours=72), future_tolerance=timedelta(minutes=2))
ADMITTED = NOW - timedelta(days=5)


@pytest.mark.parametrize(
    ("measured", "admitted", "expected"),
    [
        (NOW, ADMITTED, None),
        (NOW + timedelta(minutes=2), ADMITTED, None),
        (NOW + timedelta(minutes=3), ADMITTED, Refusal.FUTURE_TIMESTAMP),
        (NOW - timedelta(hours=72), ADMITTED, None),
        (NOW - timedelta(hours=73), ADMITTED, Refusal.TOO_LATE),
        (NOW - timedelta(hours=1), NOW - timedelta(minutes=30), Refusal.BEFORE_ADMISSION),
        (NOW - timedelta(hours=1), None, None),
    ],
)
def test_check_time(measured: datetime, admitted: datetime | None, expected: Refusal | None) -> None:
    assert check_time(measured, admitted, now=NOW, limits=LIMITS) == expected


def test_every_refusal_is_a_quarantine_reason_and_is_explained() -> None:
    assert {r.value for r in Refusal} <= {r.value for r in Reason}
    assert set(EXPLANATIONS) == set(Refusal)
