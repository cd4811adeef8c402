"""The pure parts of NPEWS in the reading path: sets and bands per reading, the contract's carer answer,
which escalation raises which alert, due times and the push text."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from alerting.npews_escalation import escalate
from alerting.npews_raising import ChildSet, alert_risk, assess, due_times
from alerting.push import build_push_payload
from readings.columns import AcceptedReading, ReadingColumns
from readings.npews_sets import ChildStates, band_starts, build_child_sets, score_sets
from readings.observation_sets import NEVER, SET_PARAMETERS, States
from vward.config import Settings
from vward.contract import Reading

WINDOW = timedelta(minutes=60)
BORN = date(2021, 11, 24)  # fifth birthday on 24 November 2026: the 5-12 chart from that UTC midnight


def _states(m: int, k: int) -> States:
    return States(np.full((m, k), np.nan), np.full((m, k), NEVER))


def test_a_child_moves_band_at_midnight_utc_within_one_batch() -> None:
    before = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    after = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    batch = ReadingColumns.from_accepted(
        [AcceptedReading("w-1", 1, at, at, rr=45.0) for at in (before, after)]
        + [AcceptedReading("w-2", 2, after, after, rr=22.0)]  # an adult in the same batch is left alone
    )
    admission = np.array([0, 0, 1])
    children = ChildStates(np.array([band_starts(BORN)]), _states(1, 4))
    sets = build_child_sets(batch, admission, _states(2, len(SET_PARAMETERS)), children, np.array([0, -1]), WINDOW)
    assert sets.rows.tolist() == [0, 1]
    assert sets.age_band.tolist() == [1, 2]
    assert sets.scores.sub_scores[:, 0].tolist() == [1, 2]  # RR 45: 1 on the 1-4 chart, 2 on the 5-12 chart
    assert sets.current_band.tolist() == [2]


def test_hand_entered_parameters_join_the_devices_set_and_are_kept() -> None:
    t0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
    t1 = t0 + timedelta(minutes=10)
    batch = ReadingColumns.from_accepted(
        [
            AcceptedReading("ox-1", 1, t0, t0, spo2=90.0, hr=185.0, on_oxygen=False),
            AcceptedReading("manual-u1", 1, t1, t1, resp_distress="severe", crt=3.0, carer_answer="W"),
        ]
    )
    children = ChildStates(np.array([band_starts(date(2026, 6, 1))]), _states(1, 4))
    sets = build_child_sets(batch, np.array([0, 0]), _states(1, len(SET_PARAMETERS)), children, np.array([0]), WINDOW)
    # second row: SpO2 4 + HR 4 + air 0 (carried from the oximeter) + severe distress 4 + CRT 2
    assert sets.scores.total.tolist() == [8, 14]
    assert sets.extras.values[0, :2].tolist() == [3.0, 3.0]  # severe is code 3; CRT 3 s kept for the next set
    assert batch.extras[1, 4] == 0.0  # W is the first carer answer


def test_oxygen_comes_from_the_hand_entered_delivery_else_the_devices_on_oxygen() -> None:
    def one(on_oxygen: float, device: float, lpm: float) -> int:
        row = np.full((1, len(SET_PARAMETERS) + 4), np.nan)
        row[0, SET_PARAMETERS.index("on_oxygen")] = on_oxygen
        row[0, len(SET_PARAMETERS) + 2] = device
        row[0, len(SET_PARAMETERS) + 3] = lpm
        return int(score_sets(row, np.array([1], dtype=np.int8)).sub_scores[0, 3])

    assert one(0.0, math.nan, math.nan) == 0  # air
    assert one(1.0, math.nan, math.nan) == 1  # oxygen at an unknown level: its floor
    assert one(1.0, 1.0, 3.0) == 2  # 2-5.99 L/min
    assert one(0.0, math.nan, 3.0) == 0  # a stale L/min on air is no oxygen
    assert one(math.nan, 4.0, math.nan) == 4  # CPAP


def test_the_contract_takes_the_carers_answer_alone_and_refuses_anything_else() -> None:
    at = datetime(2026, 11, 23, tzinfo=UTC)
    assert Reading(measured_at=at, carer_answer="W").carer_answer == "W"
    with pytest.raises(ValidationError):
        Reading.model_validate({"measured_at": at, "carer_answer": "worse"})
    with pytest.raises(ValidationError, match="carer's answer"):
        Reading(measured_at=at)


def _child_set(**kw: object) -> ChildSet:
    base: dict[str, object] = {
        "admission_id": 1,
        "observed_at": datetime(2026, 11, 23, tzinfo=UTC),
        "total": 0,
        "complete": True,
        "sub_scores": (0,) * 7,
    }
    return ChildSet(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "risk"),
    [
        ({"total": 4}, None),  # low pages nobody
        ({"total": 5}, "medium"),
        ({"total": 12}, "high"),
        ({"total": 13}, "emergency"),
        ({"sepsis_suspicion": True}, "medium"),
        ({"avpu": "C"}, "high"),  # new confusion: the chart's change to V
        ({"avpu": "P"}, "emergency"),
        ({"abnormal_pupils": True}, "emergency"),
        ({"carer_answer": "W"}, "medium"),  # awaiting a grade: at least medium until graded
        ({"carer_answer": "W", "total": 10}, "high"),
        ({"carer_answer": "S", "total": 2}, None),
        ({"clinical_concern": True}, "medium"),
    ],
)
def test_which_escalation_raises_which_alert(kw: dict[str, object], risk: str | None) -> None:
    assert alert_risk(assess(_child_set(**kw))) == risk


def test_due_times_follow_the_charts_review_column() -> None:
    settings, now = Settings(), datetime(2026, 11, 23, tzinfo=UTC)
    assert due_times("emergency", settings, now) == (now, now)  # at once
    assert due_times("high", settings, now) == (now + settings.target_high_ack, now + settings.npews_high_review)
    ack, response = due_times("medium", settings, now)
    assert response == now + settings.npews_medium_review and ack <= response
    low = due_times("low", settings, now)  # graded low: the chart's reassessment, not "at once"
    assert low == (
        now + min(settings.target_low_medium_ack, settings.npews_low_reassess),
        now + settings.npews_low_reassess,
    )
    assert escalate(total=0, carer_answer="W").awaiting_grade


def test_a_childs_push_names_npews_and_asks_for_a_grade() -> None:
    row = {
        "alert_id": 3,
        "event": "raised",
        "risk": "medium",
        "trigger": "npews_concern",
        "news2_total": None,
        "npews_total": 2,
        "npews_complete": False,
        "awaiting_grade": True,
        "ward_name": "Children's virtual ward",
        "escalation_level": 0,
    }
    body = build_push_payload(row)["body"]
    assert body == "Children's virtual ward: medium risk, NPEWS 2 (partial), a clinician must grade it (npews concern)"
