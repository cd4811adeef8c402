"""The children's ward of the simulator: children at rest score 0 on NPEWS for their age, and episodes show."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from alerting.npews import AGE_BANDS, score_one
from device_sim.fleet import FleetDevice
from device_sim.kit import reading
from device_sim.physiology import at_peak, carer_answer, new_patient, round_half_up, true_vitals

MIDNIGHT = datetime(2026, 11, 23, tzinfo=UTC)


def _npews(vitals: dict[str, float], band: int) -> tuple[int, str]:
    scored = score_one(
        age_band=AGE_BANDS[band],
        rr=round_half_up(vitals["rr"]),
        spo2=round_half_up(vitals["spo2"]),
        hr=round_half_up(vitals["hr"]),
        sbp=round_half_up(vitals["sbp"]),
        oxygen="air",
    )
    return scored.total, scored.level


@pytest.mark.parametrize("band", range(len(AGE_BANDS)))
def test_a_simulated_child_at_rest_scores_0_for_their_age_at_every_hour(band: int) -> None:
    rng = random.Random(band)
    for key in range(200):
        child = new_patient(key, "child", rng, age_band=band)
        for half_hours in range(48):
            at = MIDNIGHT + timedelta(minutes=30 * half_hours)
            assert _npews(true_vitals(child, at), band) == (0, "none"), (child.baseline, at)


@pytest.mark.parametrize("band", range(len(AGE_BANDS)))
def test_simulated_children_deteriorate_on_npews_and_their_carers_say_worse(band: int) -> None:
    rng = random.Random(100 + band)
    levels = []
    for key in range(100):
        child = at_peak(new_patient(key, "child", rng, age_band=band), MIDNIGHT, rng)
        levels.append(_npews(true_vitals(child, MIDNIGHT), band)[1])
        assert carer_answer(child, MIDNIGHT) == "W"
    assert "none" not in levels
    assert sum(level in ("medium", "high", "emergency") for level in levels) >= 60, levels


def test_the_checkin_device_sends_the_carer_answer_for_children_only() -> None:
    rng = random.Random(7)
    child = new_patient(1, "child", rng, age_band=2)
    adult = new_patient(2, "general", rng)
    assert reading("checkin", child, MIDNIGHT, MIDNIGHT, rng)["carer_answer"] == "S"
    assert "carer_answer" not in reading("checkin", adult, MIDNIGHT, MIDNIGHT, rng)


def test_the_fleet_knows_a_childs_age_band_on_the_day() -> None:
    device = FleetDevice("checkin-1", "checkin", 1, "paediatric", "paediatrics", date_of_birth=date(2021, 11, 23))
    assert device.age_band(date(2026, 11, 22)) == 1  # 4 years old
    assert device.age_band(date(2026, 11, 23)) == 2  # fifth birthday: the 5-12 chart
    assert (
        FleetDevice("c-2", "checkin", 2, "frailty", "frailty", date_of_birth=date(1950, 1, 1)).age_band(
            date(2026, 1, 1)
        )
        is None
    )
