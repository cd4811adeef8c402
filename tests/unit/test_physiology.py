"""The simulated patients and their devices: plausible baselines, deterioration in the right direction,
reproducible with a seed, offline buffering with original timestamps, every reading valid by the contract."""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from device_sim.fleet import synthetic_fleet
from device_sim.kit import KIND_VITALS, DeviceState, KitConfig, new_device, reading, take_sample
from device_sim.physiology import (
    Patient,
    Profile,
    advance,
    at_peak,
    consciousness,
    new_patient,
    profile_for,
    round_half_up,
    start_episode,
    true_vitals,
)
from vward.contract import Reading, ReadingBatch, encode_readings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PROFILES: tuple[Profile, ...] = ("copd", "respiratory", "heart_failure", "frailty", "palliative", "general", "child")


def _population(profile: Profile, n: int = 200, seed: int = 1) -> list[Patient]:
    rng = random.Random(seed)
    return [new_patient(i, profile, rng) for i in range(n)]


def _mean(patients: list[Patient], vital: str, now: datetime = NOW) -> float:
    return statistics.fmean(true_vitals(p, now)[vital] for p in patients)  # type: ignore[index]


def test_copd_patients_live_at_spo2_88_to_92() -> None:
    rng = random.Random(7)
    measured = [
        reading("pulse_oximeter", p, NOW + timedelta(hours=h), NOW, rng)["spo2"]
        for p in _population("copd")
        for h in range(0, 24, 3)
    ]
    in_range = sum(88 <= v <= 92 for v in measured) / len(measured)  # type: ignore[operator]
    assert in_range > 0.85
    assert 88 <= statistics.median(measured) <= 92  # type: ignore[type-var]


def test_pathway_baselines_differ_as_clinically_expected() -> None:
    general = _population("general")
    heart_failure = _population("heart_failure")
    frailty = _population("frailty")
    assert _mean(heart_failure, "hr") > _mean(general, "hr") + 5
    assert _mean(heart_failure, "sbp") < _mean(general, "sbp") - 8
    assert _mean(frailty, "temp") < _mean(general, "temp") - 0.3
    for profile in PROFILES:
        for p in _population(profile, n=50):
            v = true_vitals(p, NOW)
            assert 10 <= v["rr"] <= 25 and 86 <= v["spo2"] <= 100 and 35.8 <= v["temp"] <= 37.6
            assert 95 <= v["sbp"] <= 160 and v["dbp"] < v["sbp"] and 55 <= v["hr"] <= 110


def test_ward_codes_and_scale_2_map_to_profiles() -> None:
    assert profile_for("resp-copd", "respiratory", 2) == "copd"
    assert profile_for("resp-copd", "respiratory", 1) == "respiratory"
    assert profile_for("resp-ari", "respiratory", 2) == "copd"
    assert profile_for("resp-ari", "respiratory", 1) == "respiratory"
    assert profile_for("heart-failure", "cardiology", 1) == "heart_failure"
    assert profile_for("opat", "infection", 1) == "general"


@pytest.mark.parametrize(
    ("profile", "kind", "up", "down"),
    [
        ("general", "sepsis", ("temp", "hr", "rr"), ("sbp", "spo2")),
        ("copd", "copd_exacerbation", ("rr",), ("spo2",)),
        ("heart_failure", "hf_decompensation", ("rr", "hr"), ("spo2",)),
    ],
)
def test_deterioration_moves_vitals_the_right_way_over_hours(
    profile: Profile, kind: str, up: tuple[str, ...], down: tuple[str, ...]
) -> None:
    rng = random.Random(3)
    patient = new_patient(1, profile, rng)
    while patient.episode is None or patient.episode.kind != kind:
        patient = start_episode(patient, NOW, rng)
    episode = patient.episode
    well = replace(patient, episode=None)

    def change(vital: str, at: datetime) -> float:
        """The episode's effect alone: the same patient at the same moment, with and without it."""
        return true_vitals(patient, at)[vital] - true_vitals(well, at)[vital]  # type: ignore[index]

    before, rising, peak = NOW - timedelta(hours=1), NOW + episode.onset / 2, NOW + episode.onset
    for vital in up:
        assert change(vital, before) == 0 < change(vital, rising) < change(vital, peak)
    for vital in down:
        assert change(vital, before) == 0 > change(vital, rising) > change(vital, peak)
    assert change("rr", peak) >= 6  # enough to move NEWS2: a demo shows alerts
    assert episode.intensity(NOW + episode.onset) == 1.0


def test_severe_sepsis_brings_new_confusion_later_not_at_once() -> None:
    rng = random.Random(5)
    patient = new_patient(1, "general", rng)
    patient = start_episode(patient, NOW, rng)
    assert patient.episode is not None
    patient = replace(patient, episode=replace(patient.episode, kind="sepsis", severity=1.0, resolves=False))
    assert consciousness(patient, NOW + timedelta(minutes=30)) == "A"
    assert consciousness(patient, NOW + patient.episode.onset + timedelta(hours=3)) == "C"


def test_episode_resolves_and_is_cleared() -> None:
    rng = random.Random(11)
    patient = start_episode(new_patient(1, "general", rng), NOW, rng)
    assert patient.episode is not None
    episode = replace(patient.episode, resolves=True)
    end = NOW + episode.onset + episode.plateau + episode.recovery
    assert 0.0 < episode.intensity(end - episode.recovery / 2) < 1.0
    assert episode.intensity(end) == 0.0 and episode.ended(end)
    cleared = advance(replace(patient, episode=episode, updated_at=end), end, rng, episode_rate_per_hour=0.0)
    assert cleared.episode is None
    assert true_vitals(cleared, end) == true_vitals(replace(patient, episode=None), end)


def test_episodes_start_with_the_hourly_hazard() -> None:
    rng = random.Random(2)
    patients = [replace(p, updated_at=NOW) for p in _population("general", n=400)]
    later = [advance(p, NOW + timedelta(hours=10), rng, episode_rate_per_hour=0.05) for p in patients]
    started = sum(p.episode is not None for p in later) / len(later)
    assert 0.3 < started < 0.5  # 1 - exp(-0.5) ≈ 0.39
    none = [advance(p, NOW + timedelta(hours=10), rng, episode_rate_per_hour=0.0) for p in patients]
    assert all(p.episode is None for p in none)


def test_at_peak_is_deteriorated_now() -> None:
    rng = random.Random(4)
    patient = new_patient(1, "general", rng)
    worse = at_peak(patient, NOW, rng)
    assert worse.episode is not None and worse.episode.intensity(NOW) == 1.0
    assert true_vitals(worse, NOW)["hr"] > true_vitals(patient, NOW)["hr"]


def _run_device(kind: str, seed: int, n: int, config: KitConfig) -> list[list[dict[str, object]]]:
    rng = random.Random(seed)
    patient = new_patient(1, "copd", rng)
    state = new_device(f"xx-{seed:06d}", kind, NOW, config, rng)
    out = []
    for i in range(n):
        t = NOW + timedelta(minutes=15 * i)
        out += take_sample(state, patient, sim_now=t, real_now=t, config=config, rng=rng)
    return out


def test_same_seed_same_readings_other_seed_different() -> None:
    config = KitConfig(offline_chance=0.2)
    assert _run_device("bp_cuff", 1, 30, config) == _run_device("bp_cuff", 1, 30, config)
    assert _run_device("bp_cuff", 1, 30, config) != _run_device("bp_cuff", 2, 30, config)


def test_offline_device_publishes_its_buffer_as_one_batch_with_original_times() -> None:
    config = KitConfig(offline_chance=1.0, offline_duration=(timedelta(hours=1), timedelta(hours=1)))
    rng = random.Random(1)
    patient = new_patient(1, "general", rng)
    state = DeviceState("ox-000001", "pulse_oximeter", next_due=NOW)
    times = [NOW + timedelta(minutes=20 * i) for i in range(4)]  # offline at 0, back at 60
    messages = [take_sample(state, patient, sim_now=t, real_now=t, config=config, rng=rng) for t in times]
    assert messages[:3] == [[], [], []]
    assert state.offline is False and len(messages[3]) == 1
    batch = ReadingBatch.model_validate_json(encode_readings(messages[3][0]))
    assert [r.measured_at for r in batch.readings] == times


def test_wearable_batches_samples_and_spot_checks_send_one() -> None:
    config = KitConfig(offline_chance=0.0, wearable_samples_per_message=5)
    wearable = _run_device("wearable", 1, 12, config)
    assert [len(m) for m in wearable] == [5, 5]
    assert [len(m) for m in _run_device("thermometer", 1, 3, config)] == [1, 1, 1]


def test_flush_sends_a_partial_wearable_batch_and_times_stay_unique() -> None:
    config = KitConfig(offline_chance=0.0)
    rng = random.Random(1)
    patient = new_patient(1, "general", rng)
    state = DeviceState("wr-000001", "wearable", next_due=NOW)
    first = take_sample(state, patient, sim_now=NOW, real_now=NOW, config=config, rng=rng, flush=True)
    second = take_sample(state, patient, sim_now=NOW, real_now=NOW, config=config, rng=rng, flush=True)
    assert len(first) == len(second) == 1
    assert first[0][0]["measured_at"] != second[0][0]["measured_at"]


def test_every_generated_reading_is_valid_by_the_contract() -> None:
    rng = random.Random(9)
    count = 0
    for profile in PROFILES:
        for i in range(30):
            patient = new_patient(i, profile, rng)
            if i % 2:
                patient = at_peak(patient, NOW, rng)
                assert patient.episode is not None
                patient = replace(patient, episode=replace(patient.episode, severity=1.2))
            for kind in KIND_VITALS:
                r = reading(kind, patient, NOW + timedelta(hours=i), NOW, rng)
                parsed = Reading.model_validate_json(json.dumps(r))
                for vital in ("spo2", "hr", "rr", "sbp", "dbp"):
                    value = getattr(parsed, vital)
                    assert value is None or value == int(value)
                assert parsed.temp is None or parsed.temp == round(parsed.temp, 1)
                count += 1
    assert count == len(PROFILES) * 30 * len(KIND_VITALS)


def test_round_half_up_like_a_device_display() -> None:
    assert round_half_up(36.45, 0.1) == pytest.approx(36.5)
    assert round_half_up(94.5) == 95
    assert round_half_up(94.49) == 94


def test_synthetic_fleet_has_full_kits_over_the_wards() -> None:
    fleet = synthetic_fleet(12)
    assert [d.device_id for d in fleet[:5]] == ["ox-000001", "bp-000001", "th-000001", "wr-000001", "ci-000001"]
    assert fleet[5].admission_id == 2 and fleet[5].ward_code != fleet[0].ward_code
    with pytest.raises(ValueError):
        synthetic_fleet(0)
