"""NPEWS escalation: the highest of total band, specific concerns and triggers, with reasons in words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerting.npews import score_one
from alerting.npews_escalation import (
    Escalation,
    EscalationInputError,
    ResponseTarget,
    escalate,
    response_target,
)
from vward.config import Settings


@pytest.mark.parametrize(
    ("total", "level"),
    [(0, "none"), (1, "low"), (4, "low"), (5, "medium"), (8, "medium"), (9, "high"), (12, "high"), (13, "emergency")],
)
def test_total_bands(total: int, level: str) -> None:
    assert escalate(total=total).level == level


def test_no_criterion_is_no_escalation_and_no_reasons() -> None:
    assert escalate(total=0) == Escalation(level="none", reasons=(), awaiting_grade=False)


def test_infant_at_12_is_high_with_the_reason_in_words_then_emergency_with_severe_distress() -> None:
    infant = {"age_band": "0-11 months", "rr": 72.0, "spo2": 90.0, "hr": 185.0}
    scored = score_one(**infant)  # type: ignore[arg-type]
    escalation = escalate(total=scored.total, complete=scored.complete)
    assert escalation == Escalation(level="high", reasons=("high: PEWS at least 12 (9-12)",), awaiting_grade=False)
    worse = score_one(**infant, resp_distress="severe")  # type: ignore[arg-type]
    assert escalate(total=worse.total, complete=worse.complete).level == "emergency"


@pytest.mark.parametrize(
    ("concern", "level", "reason"),
    [
        ({"new_sepsis_suspicion": True}, "medium", "medium: new suspicion of sepsis"),
        ({"new_septic_shock_suspicion": True}, "high", "high: new suspicion of septic shock"),
        ({"avpu_changed_to": "V"}, "high", "high: AVPU changed to V"),
        ({"avpu_changed_to": "P"}, "emergency", "emergency: AVPU changed to P"),
        ({"avpu_changed_to": "U"}, "emergency", "emergency: AVPU changed to U"),
        ({"abnormal_pupils": True}, "emergency", "emergency: abnormal pupils"),
    ],
)
def test_a_specific_concern_alone_sets_its_level(concern: dict[str, object], level: str, reason: str) -> None:
    assert escalate(total=0, **concern) == Escalation(level=level, reasons=(reason,), awaiting_grade=False)  # type: ignore[arg-type]


def test_avpu_back_to_alert_is_no_concern() -> None:
    assert escalate(total=2, avpu_changed_to="A").level == "low"


def test_the_highest_criterion_wins_and_every_reason_is_listed_highest_first() -> None:
    escalation = escalate(total=6, new_sepsis_suspicion=True, avpu_changed_to="V")
    assert escalation.level == "high"
    assert escalation.reasons == ("high: AVPU changed to V", "medium: PEWS 6 (5-8)", "medium: new suspicion of sepsis")


def test_a_high_total_is_not_lowered_by_a_milder_concern() -> None:
    assert escalate(total=13, new_sepsis_suspicion=True).level == "emergency"


def test_carer_worse_waits_for_a_clinician_to_choose_the_level() -> None:
    escalation = escalate(total=2, carer_answer="W")
    assert escalation == Escalation(
        level="low",
        reasons=(
            "the carer says the child is worse (W): a clinician must choose the level",
            "low: PEWS 2 (1-4)",
        ),
        awaiting_grade=True,
    )


def test_the_clinicians_grade_of_a_carers_worse_sets_the_level() -> None:
    escalation = escalate(total=2, carer_answer="W", clinician_level="high")
    assert escalation == Escalation(
        level="high",
        reasons=("high: graded high by a clinician: the carer says the child is worse (W)", "low: PEWS 2 (1-4)"),
        awaiting_grade=False,
    )


def test_just_not_right_is_a_clinician_trigger_and_the_highest_still_wins() -> None:
    escalation = escalate(total=10, clinical_concern=True, clinician_level="medium")
    assert escalation.level == "high"
    assert (
        escalation.reasons[1] == "medium: graded medium by a clinician: a clinician feels the child is just not right"
    )
    assert escalate(total=0, clinical_concern=True).awaiting_grade is True


@pytest.mark.parametrize("answer", ["S", "B", "A", "U", None])
def test_other_carer_answers_raise_nothing(answer: str | None) -> None:
    assert escalate(total=0, carer_answer=answer) == Escalation(level="none", reasons=(), awaiting_grade=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"avpu_changed_to": "C"}, "AVPU"),
        ({"carer_answer": "X"}, "carer"),
        ({"clinician_level": "urgent"}, "level"),
        ({"total": -1}, "negative"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(EscalationInputError, match=message):
        escalate(**{"total": 0, **kwargs})  # type: ignore[arg-type]


def test_response_targets_default_to_the_charts_response_column() -> None:
    settings = Settings()
    minutes = timedelta(minutes=1)
    assert [response_target(level, settings) for level in ("none", "low", "medium", "high", "emergency")] == [
        ResponseTarget(None, None),
        ResponseTarget(None, 60 * minutes),
        ResponseTarget(30 * minutes, 30 * minutes),
        ResponseTarget(15 * minutes, 30 * minutes),
        ResponseTarget(timedelta(0), 15 * minutes),
    ]


def test_response_targets_are_settings() -> None:
    settings = Settings(npews_high_review=timedelta(minutes=10))
    assert response_target("high", settings).review_within == timedelta(minutes=10)
    with pytest.raises(EscalationInputError):
        response_target("urgent", settings)
