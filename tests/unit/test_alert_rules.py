"""Raising rules as pure functions: thresholds, partial totals, single 3s, trend, one open alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerting.rules import Baseline, Escalate, LatestSet, Raise, decide, is_trend, needs_baseline

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def s(total: int, risk: str, complete: bool = True) -> LatestSet:
    subs = (0, 0, 0, 0, 0, 0, 0) if complete else (0, None, None, 0, 0, 0, 0)
    return LatestSet(admission_id=1, observed_at=T0, total=total, risk=risk, complete=complete, sub_scores=subs)


@pytest.mark.parametrize(
    ("latest", "expected"),
    [
        (s(0, "low"), None),
        (s(4, "low"), None),
        (s(3, "low-medium"), Raise("single_parameter", "low-medium")),
        (s(5, "medium"), Raise("news2", "medium")),
        (s(7, "high"), Raise("news2", "high")),
        (s(5, "medium", complete=False), Raise("news2", "medium")),  # a partial total is a floor: it counts
        (s(3, "low-medium", complete=False), Raise("single_parameter", "low-medium")),
    ],
)
def test_raise_thresholds(latest: LatestSet, expected: object) -> None:
    assert decide(latest, open_risk=None, baseline=None, rise_threshold=2) == expected


def test_trend_raises_below_five_against_the_patients_own_baseline() -> None:
    usual_1 = Baseline(usual=1.0, recent=3.0)
    assert decide(s(3, "low"), open_risk=None, baseline=usual_1, rise_threshold=2) == Raise("trend", "low")
    assert decide(s(2, "low"), open_risk=None, baseline=usual_1, rise_threshold=2) is None
    assert decide(s(4, "low"), open_risk=None, baseline=None, rise_threshold=2) is None  # no baseline yet
    assert is_trend(4, Baseline(2.5, 4.5), 2) is False and is_trend(5, Baseline(2.5, 4.5), 2) is True


def test_a_single_noisy_set_is_not_a_trend() -> None:
    """The rise must be sustained: the recent median has to reach it too."""
    assert decide(s(4, "low"), open_risk=None, baseline=Baseline(usual=1.0, recent=2.0), rise_threshold=2) is None
    assert decide(s(4, "low"), open_risk=None, baseline=Baseline(usual=1.0, recent=3.0), rise_threshold=2) == Raise(
        "trend", "low"
    )


@pytest.mark.parametrize(
    ("open_risk", "latest", "expected"),
    [
        ("medium", s(7, "high"), Escalate("high")),
        ("low-medium", s(5, "medium"), Escalate("medium")),
        ("low", s(3, "low-medium"), Escalate("low-medium")),  # a trend / missed-readings alert gets worse
        ("medium", s(6, "medium"), None),
        ("high", s(5, "medium"), None),
        ("medium", s(0, "low"), None),
    ],
)
def test_one_open_alert_escalates_on_higher_risk_only(open_risk: str, latest: LatestSet, expected: object) -> None:
    assert decide(latest, open_risk=open_risk, baseline=Baseline(0.0, 0.0), rise_threshold=2) == expected


def test_baseline_is_only_needed_for_a_low_set_without_an_open_alert() -> None:
    assert needs_baseline(s(2, "low"), None, 2)
    assert not needs_baseline(s(1, "low"), None, 2)  # under the threshold no baseline can make it a rise
    assert needs_baseline(s(1, "low"), None, 1)
    assert not needs_baseline(s(2, "low"), "low", 2)
    assert not needs_baseline(s(5, "medium"), None, 2)
