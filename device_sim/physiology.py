"""A patient at home, as vital signs over time: baseline per pathway, circadian drift, deterioration episodes.

Pure: every function takes the simulated time and a seeded ``random.Random``; nothing here reads a clock or
does I/O. ``true_vitals`` is the patient's physiology; devices add their own measurement noise and rounding
(``measure``) the way real home devices report (SpO2, HR, RR, BP as integers, temperature to 0.1 °C).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Vital = Literal["rr", "spo2", "sbp", "dbp", "hr", "temp"]
EpisodeKind = Literal["sepsis", "copd_exacerbation", "hf_decompensation"]
Profile = Literal["copd", "respiratory", "heart_failure", "frailty", "palliative", "general", "child"]

# Per profile: (low, high) of each vital's resting mean, drawn once per patient; then P(on long-term oxygen).
_BASELINE_RANGES: dict[Profile, dict[Vital, tuple[float, float]]] = {
    # COPD lives at SpO2 88–92% (its NEWS2 target range on Scale 2) and breathes faster.
    "copd": {
        "rr": (17, 20),
        "spo2": (88.5, 91.5),
        "sbp": (120, 140),
        "dbp": (70, 85),
        "hr": (78, 92),
        "temp": (36.4, 36.9),
    },
    "respiratory": {
        "rr": (16, 19),
        "spo2": (94, 96),
        "sbp": (115, 135),
        "dbp": (70, 85),
        "hr": (72, 88),
        "temp": (36.5, 37.0),
    },
    # Heart failure: faster heart, lower systolic pressure (on beta blockers and ACE inhibitors).
    "heart_failure": {
        "rr": (15, 18),
        "spo2": (94, 96),
        "sbp": (102, 118),
        "dbp": (60, 72),
        "hr": (80, 92),
        "temp": (36.4, 36.9),
    },
    # Frailty: older, cooler, slightly lower SpO2.
    "frailty": {
        "rr": (15, 18),
        "spo2": (94, 96),
        "sbp": (125, 145),
        "dbp": (65, 80),
        "hr": (68, 82),
        "temp": (36.0, 36.5),
    },
    "palliative": {
        "rr": (16, 20),
        "spo2": (93, 96),
        "sbp": (105, 125),
        "dbp": (60, 75),
        "hr": (78, 95),
        "temp": (36.3, 36.9),
    },
    "general": {
        "rr": (14, 17),
        "spo2": (96, 98),
        "sbp": (115, 135),
        "dbp": (70, 85),
        "hr": (65, 82),
        "temp": (36.5, 37.0),
    },
    # A child of no known age (synthetic fleets); a known child is drawn by age band (_CHILD_BASELINES).
    "child": {
        "rr": (18, 22),
        "spo2": (97, 99),
        "sbp": (100, 115),
        "dbp": (60, 72),
        "hr": (85, 100),
        "temp": (36.6, 37.1),
    },
}
# A child's resting means per NPEWS age band (0-11 months, 1-4, 5-12, 13+ years), chosen so that with the
# circadian swing every value sits in the chart's white (score 0) band for the age: a child at rest scores
# 0 on the national PEWS. Deterioration episodes then push them out, as they do adults.
_CHILD_BASELINES: tuple[dict[Vital, tuple[float, float]], ...] = (
    {"rr": (35, 42), "spo2": (97, 99), "sbp": (76, 83), "dbp": (45, 52), "hr": (120, 138), "temp": (36.6, 37.1)},
    {"rr": (25, 32), "spo2": (97, 99), "sbp": (86, 93), "dbp": (50, 58), "hr": (100, 120), "temp": (36.6, 37.1)},
    {"rr": (21.5, 22.5), "spo2": (97, 99), "sbp": (97, 102), "dbp": (55, 62), "hr": (90, 105), "temp": (36.6, 37.1)},
    {"rr": (16, 20), "spo2": (97, 99), "sbp": (106, 112), "dbp": (62, 70), "hr": (76, 88), "temp": (36.5, 37.0)},
)
_ON_OXYGEN_CHANCE: dict[Profile, float] = {"copd": 0.3, "palliative": 0.15, "respiratory": 0.05}

_PATHWAY_PROFILE: dict[str, Profile] = {
    "respiratory": "respiratory",
    "cardiology": "heart_failure",
    "frailty": "frailty",
    "palliative": "palliative",
    "paediatrics": "child",
}

# Deltas at full intensity (severity 1.0). Sepsis: fever, fast heart and breathing, hypotension, confusion.
_EPISODE_EFFECTS: dict[EpisodeKind, dict[Vital, float]] = {
    "sepsis": {"temp": 2.0, "hr": 38, "rr": 10, "sbp": -35, "dbp": -15, "spo2": -5},
    "copd_exacerbation": {"spo2": -7, "rr": 10, "hr": 18, "temp": 0.4},
    "hf_decompensation": {"rr": 10, "spo2": -7, "hr": 28, "sbp": -12, "dbp": -6},
}
# A child's sepsis, at full intensity: children compensate with a faster heart and breathing for longer,
# so those rise more than an adult's (and their pressure falls late); sized against the NPEWS charts.
_CHILD_SEPSIS: dict[Vital, float] = {"temp": 2.0, "hr": 50, "rr": 22, "sbp": -25, "dbp": -12, "spo2": -6}
# Measurement noise (standard deviation) of a home device reading.
_NOISE_SD: dict[Vital, float] = {"rr": 1.2, "spo2": 0.8, "sbp": 5.0, "dbp": 3.5, "hr": 2.5, "temp": 0.12}
# Circadian amplitude and the hour of the day each vital peaks.
_CIRCADIAN: dict[Vital, tuple[float, float]] = {
    "temp": (0.3, 18.0),
    "hr": (5.0, 15.0),
    "sbp": (6.0, 10.0),
    "dbp": (3.0, 10.0),
    "rr": (0.8, 15.0),
}
# Physiological limits the model never crosses (inside the MQTT contract's plausibility bounds).
_LIMITS: dict[Vital, tuple[float, float]] = {
    "rr": (6, 50),
    "spo2": (60, 100),
    "sbp": (60, 240),
    "dbp": (30, 140),
    "hr": (30, 200),
    "temp": (33.0, 42.0),
}


def profile_for(ward_code: str, pathway: str, spo2_scale: int) -> Profile:
    """The physiology a ward's patient has, by the ward's pathway.

    Living at SpO2 88–92% is what SpO2 Scale 2 is for, so the COPD profile goes with a Scale 2 admission;
    a COPD-ward patient on Scale 1 gets the respiratory profile (94–96%), or every reading would alert.
    """
    if spo2_scale == 2:
        return "copd"
    if ward_code == "resp-copd":
        return "respiratory"
    return _PATHWAY_PROFILE.get(pathway, "general")


@dataclass(frozen=True)
class Episode:
    """A deterioration: rises over ``onset``, holds for ``plateau``, then recovers or persists."""

    kind: EpisodeKind
    started_at: datetime
    onset: timedelta
    plateau: timedelta
    recovery: timedelta
    resolves: bool
    severity: float

    def intensity(self, now: datetime) -> float:
        """0 before the start, rising to 1 at the peak, back to 0 at the end if it resolves."""
        elapsed = now - self.started_at
        if elapsed <= timedelta(0):
            return 0.0
        if elapsed < self.onset:
            return elapsed / self.onset
        after_peak = elapsed - self.onset - self.plateau
        if after_peak <= timedelta(0) or not self.resolves:
            return 1.0
        return max(0.0, 1.0 - after_peak / self.recovery)

    def ended(self, now: datetime) -> bool:
        return self.resolves and now - self.started_at >= self.onset + self.plateau + self.recovery


@dataclass(frozen=True)
class Patient:
    """One admitted patient's physiology: resting means, circadian phase and any current episode."""

    key: int
    profile: Profile
    baseline: dict[Vital, float]
    on_oxygen: bool
    circadian_shift_h: float
    episode: Episode | None = None
    updated_at: datetime | None = None
    age_band: int | None = None  # a child's NPEWS age band (alerting.npews.AGE_BANDS), None for an adult


def new_patient(key: int, profile: Profile, rng: random.Random, *, age_band: int | None = None) -> Patient:
    """A patient of ``profile``; a child's resting vitals are those of their NPEWS ``age_band`` when known."""
    ranges = _CHILD_BASELINES[age_band] if profile == "child" and age_band is not None else _BASELINE_RANGES[profile]
    baseline: dict[Vital, float] = {v: rng.uniform(lo, hi) for v, (lo, hi) in ranges.items()}
    return Patient(
        key=key,
        profile=profile,
        baseline=baseline,
        on_oxygen=rng.random() < _ON_OXYGEN_CHANCE.get(profile, 0.0),
        circadian_shift_h=rng.uniform(-1.5, 1.5),
        age_band=age_band if profile == "child" else None,
    )


def _episode_kind(profile: Profile, rng: random.Random) -> EpisodeKind:
    if profile == "copd":
        return "copd_exacerbation" if rng.random() < 0.7 else "sepsis"
    if profile == "heart_failure":
        return "hf_decompensation" if rng.random() < 0.75 else "sepsis"
    return "sepsis"


def start_episode(patient: Patient, started_at: datetime, rng: random.Random) -> Patient:
    """The patient with a new deterioration episode of the kind their pathway makes likely."""
    episode = Episode(
        kind=_episode_kind(patient.profile, rng),
        started_at=started_at,
        onset=timedelta(hours=rng.uniform(2, 8)),
        plateau=timedelta(hours=rng.uniform(4, 24)),
        recovery=timedelta(hours=rng.uniform(6, 36)),
        resolves=rng.random() < 0.7,
        severity=rng.uniform(0.7, 1.2),
    )
    return replace(patient, episode=episode)


def at_peak(patient: Patient, now: datetime, rng: random.Random) -> Patient:
    """The patient already deteriorated: an episode that reached its peak just now (demos, tests)."""
    with_episode = start_episode(patient, now, rng)
    assert with_episode.episode is not None
    return replace(with_episode, episode=replace(with_episode.episode, started_at=now - with_episode.episode.onset))


def advance(patient: Patient, now: datetime, rng: random.Random, *, episode_rate_per_hour: float) -> Patient:
    """The patient at ``now``: an ended episode is cleared; a new one starts with the given hourly hazard."""
    since = patient.updated_at or now
    if patient.episode is not None:
        if not patient.episode.ended(now):
            return replace(patient, updated_at=now)
        patient = replace(patient, episode=None)
    hours = max(0.0, (now - since).total_seconds() / 3600)
    if rng.random() < 1.0 - math.exp(-episode_rate_per_hour * hours):
        patient = start_episode(patient, since + (now - since) * rng.random(), rng)
    return replace(patient, updated_at=now)


def true_vitals(patient: Patient, now: datetime) -> dict[Vital, float]:
    """The patient's physiology at ``now`` before any device measures it."""
    hour = now.hour + now.minute / 60 + patient.circadian_shift_h
    intensity = patient.episode.intensity(now) if patient.episode else 0.0
    effects = _EPISODE_EFFECTS[patient.episode.kind] if patient.episode else {}
    if patient.age_band is not None and patient.episode is not None and patient.episode.kind == "sepsis":
        effects = _CHILD_SEPSIS
    severity = patient.episode.severity if patient.episode else 0.0
    vitals: dict[Vital, float] = {}
    for vital, mean in patient.baseline.items():
        amplitude, peak = _CIRCADIAN.get(vital, (0.0, 0.0))
        value = mean + amplitude * math.cos(2 * math.pi * (hour - peak) / 24)
        value += effects.get(vital, 0.0) * intensity * severity
        lo, hi = _LIMITS[vital]
        vitals[vital] = min(hi, max(lo, value))
    return vitals


def consciousness(patient: Patient, now: datetime) -> str:
    """ACVPU: new confusion ('C') once sepsis has been at or near its peak for a few hours."""
    episode = patient.episode
    if episode is None or episode.kind != "sepsis" or episode.severity < 0.85:
        return "A"
    at_peak_for = now - episode.started_at - episode.onset
    return "C" if episode.intensity(now) > 0.8 and at_peak_for >= timedelta(hours=2) else "A"


def carer_answer(patient: Patient, now: datetime) -> str | None:
    """A child's carer answers the national PEWS question: worse (W) once an episode is well under way,
    else the same (S). None for an adult: the question is the children's chart's."""
    if patient.profile != "child":
        return None
    return "W" if patient.episode is not None and patient.episode.intensity(now) >= 0.5 else "S"


def round_half_up(value: float, step: float = 1.0) -> float:
    """Rounds like a device display: half up, to ``step`` (1 for most vitals, 0.1 for temperature)."""
    return math.floor(round(value / step, 9) + 0.5) * step  # round(): 36.45 / 0.1 is 364.4999…


def measure(vitals: dict[Vital, float], fields: tuple[Vital, ...], rng: random.Random) -> dict[str, float | int]:
    """A device's reading of ``fields``: true value plus noise, within limits, rounded as the device shows."""
    out: dict[str, float | int] = {}
    for vital in fields:
        lo, hi = _LIMITS[vital]
        value = min(hi, max(lo, vitals[vital] + rng.gauss(0.0, _NOISE_SD[vital])))
        out[vital] = round(round_half_up(value, 0.1), 1) if vital == "temp" else int(round_half_up(value))
    if "sbp" in out and "dbp" in out:
        out["dbp"] = min(int(out["dbp"]), int(out["sbp"]) - 15)
    return out
