"""The queue card's words: why an alert was raised, who the patient is, who acted and when."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from clinician_ui.queue import age_words, annotate, band_counts, duration_words, reason_text
from vward.nhs_number import formatted

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_news2_names_the_band_and_the_driving_sub_scores_highest_first() -> None:
    row = {"trigger": "news2", "risk": "high", "news2_total": 8, "sub_scores": [2, 3, 0, 1, 2, 0, 0]}
    assert reason_text(row, NOW) == "NEWS2 8, high risk: SpO2 3, respiration rate 2, pulse 2, systolic BP 1"
    assert reason_text({**row, "news2_complete": False}, NOW).startswith("NEWS2 at least 8")


def test_single_parameter_names_the_parameter_scoring_3() -> None:
    row = {"trigger": "single_parameter", "risk": "low-medium", "news2_total": 3, "sub_scores": [0, 0, 0, 0, 3, 0]}
    assert reason_text(row, NOW) == "Single parameter scoring 3: pulse"


def test_trend_says_how_far_above_the_baseline() -> None:
    row = {"trigger": "trend", "news2_total": 5, "trend_baseline": 2.0, "trend_baseline_hours": 24}
    assert reason_text(row, NOW) == "NEWS2 up 3 from a 24 h baseline of 2 (now 5)"
    assert "rising" in reason_text({**row, "trend_baseline": None}, NOW)


def test_missed_readings_says_how_long_and_how_often_expected() -> None:
    row = {"trigger": "missed_readings", "last_reading_at": NOW - timedelta(hours=2, minutes=10)}
    assert reason_text({**row, "expected_reading_minutes": 60}, NOW) == (
        "No reading for 2 h 10 min, expected every 60 min"
    )
    never = {"trigger": "missed_readings", "admitted_at": NOW - timedelta(minutes=45), "expected_reading_minutes": 30}
    assert reason_text(never, NOW) == "No reading for 45 min, expected every 30 min"


def test_npews_alerts_keep_their_own_reason() -> None:
    row = {"trigger": "npews", "score": "npews", "reason": "NPEWS 13: emergency"}
    assert reason_text(row, NOW) == "NPEWS 13: emergency"


def test_words_for_durations_ages_and_nhs_numbers() -> None:
    assert duration_words(timedelta(minutes=59, seconds=59)) == "59 min"
    assert duration_words(timedelta(days=2, hours=3, minutes=5)) == "2 d 3 h"
    assert age_words(date(1941, 11, 24), NOW.date()) == "84 y"
    assert age_words(date(2026, 4, 23), NOW.date()) == "7 mo"
    assert formatted("9434765919") == "943 476 5919"


def test_status_says_who_and_when_and_bands_are_counted() -> None:
    row = {
        "status": "acknowledged",
        "acknowledged_by_name": "Sam Nurse",
        "acknowledged_at": NOW,
        "trigger": "news2",
        "risk": "high",
        "nhs_number": "9434765919",
    }
    out = annotate(row, NOW)
    assert out["status_words"] == "acknowledged by Sam Nurse at 15:00" and out["nhs"] == "943 476 5919"
    assert band_counts([{"risk": "low"}, {"risk": "high"}, {"risk": "high"}]) == [("high", 2), ("low", 1)]
