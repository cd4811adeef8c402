"""A patient's home kit: what each device measures, when it reports, and how it buffers while offline.

Pure state machine: ``take_sample`` is given the patient, the simulated time (physiology and schedules) and
the real time (the measurement's timestamp) and returns the messages to publish now, each a list of readings
in the contract's JSON form. Nothing here touches the network or a clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from device_sim.physiology import Patient, Vital, carer_answer, consciousness, measure, true_vitals
from vward.contract import MAX_READINGS_PER_MESSAGE

# What each kind of device measures (see vward/seed.py DEVICE_KINDS for the id prefixes).
KIND_VITALS: dict[str, tuple[Vital, ...]] = {
    "pulse_oximeter": ("spo2", "hr"),
    "bp_cuff": ("sbp", "dbp", "hr"),
    "thermometer": ("temp",),
    "wearable": ("rr", "hr"),
    "checkin": (),
}
# Patient- or carer-reported answers, not measurements: whether oxygen is on, ACVPU, and for a child the
# carer's answer to the national PEWS question.
_REPORTS_OXYGEN = frozenset({"pulse_oximeter", "checkin"})
CONTINUOUS_KINDS = frozenset({"wearable"})


@dataclass(frozen=True)
class KitConfig:
    """How often devices report, in simulated time, and how often they drop offline."""

    spot_check_interval: timedelta = timedelta(hours=4)
    spot_check_jitter: float = 0.2
    wearable_sample_interval: timedelta = timedelta(minutes=1)
    wearable_samples_per_message: int = 5
    # Chance that a device is offline at a given sample (no signal, flat battery), and for how long.
    offline_chance: float = 0.01
    offline_duration: tuple[timedelta, timedelta] = (timedelta(minutes=30), timedelta(hours=3))

    def __post_init__(self) -> None:
        if not 0.0 <= self.offline_chance <= 1.0:
            raise ValueError("offline_chance must be between 0 and 1")
        if not 1 <= self.wearable_samples_per_message <= MAX_READINGS_PER_MESSAGE:
            raise ValueError(f"wearable_samples_per_message must be 1..{MAX_READINGS_PER_MESSAGE}")
        if self.spot_check_interval <= timedelta(0) or self.wearable_sample_interval <= timedelta(0):
            raise ValueError("device intervals must be positive")


@dataclass
class DeviceState:
    """One device's schedule and its readings not yet published (a wearable's batch, or an offline buffer)."""

    device_id: str
    kind: str
    next_due: datetime
    pending: list[dict[str, object]] = field(default_factory=list)
    offline_until: datetime | None = None
    last_measured_at: datetime | None = None

    @property
    def offline(self) -> bool:
        return self.offline_until is not None


def interval(kind: str, config: KitConfig, rng: random.Random) -> timedelta:
    """Time to this device's next sample: regular for a wearable, a spot check with jitter otherwise."""
    if kind in CONTINUOUS_KINDS:
        return config.wearable_sample_interval
    return config.spot_check_interval * (1.0 + config.spot_check_jitter * rng.uniform(-1.0, 1.0))


def new_device(device_id: str, kind: str, sim_now: datetime, config: KitConfig, rng: random.Random) -> DeviceState:
    """A device whose first sample falls at a random point in its first interval (not all at once)."""
    if kind not in KIND_VITALS:
        raise ValueError(f"unknown device kind {kind!r}")
    first = interval(kind, config, rng) * rng.random()
    return DeviceState(device_id=device_id, kind=kind, next_due=sim_now + first)


def reading(
    kind: str, patient: Patient, sim_now: datetime, measured_at: datetime, rng: random.Random
) -> dict[str, object]:
    """What this kind of device reports for the patient now, stamped with the real measurement time."""
    values: dict[str, object] = dict(measure(true_vitals(patient, sim_now), KIND_VITALS[kind], rng))
    if kind in _REPORTS_OXYGEN:
        values["on_oxygen"] = patient.on_oxygen
    if kind == "checkin":
        values["consciousness"] = consciousness(patient, sim_now)
        answer = carer_answer(patient, sim_now)
        if answer is not None:
            values["carer_answer"] = answer
    return {"measured_at": measured_at.isoformat().replace("+00:00", "Z"), **values}


def take_sample(
    state: DeviceState,
    patient: Patient,
    *,
    sim_now: datetime,
    real_now: datetime,
    config: KitConfig,
    rng: random.Random,
    flush: bool = False,
) -> list[list[dict[str, object]]]:
    """Measures, schedules the next sample, and returns the messages to publish now (often none).

    Offline devices keep their readings and publish them as batches with their original timestamps when
    they are back. ``flush`` publishes a wearable's partial batch at once (load mode: one message per event).
    """
    measured_at = real_now
    if state.last_measured_at is not None and measured_at <= state.last_measured_at:
        # Two samples in the same microsecond would collide on ingest's (device, measured_at) key.
        measured_at = state.last_measured_at + timedelta(microseconds=1)
    state.last_measured_at = measured_at
    state.pending.append(reading(state.kind, patient, sim_now, measured_at, rng))
    state.next_due = sim_now + interval(state.kind, config, rng)

    if state.offline_until is not None and sim_now >= state.offline_until:
        state.offline_until = None
    elif state.offline_until is None and rng.random() < config.offline_chance:
        low, high = config.offline_duration
        state.offline_until = sim_now + low + (high - low) * rng.random()
    if state.offline:
        return []
    batch_size = config.wearable_samples_per_message if state.kind in CONTINUOUS_KINDS else 1
    batch_full = len(state.pending) >= batch_size
    if not (flush or batch_full):
        return []
    messages = [
        state.pending[i : i + MAX_READINGS_PER_MESSAGE] for i in range(0, len(state.pending), MAX_READINGS_PER_MESSAGE)
    ]
    state.pending = []
    return messages
