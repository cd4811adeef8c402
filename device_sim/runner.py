"""Runs a fleet of simulated devices against the broker: schedules, time compression, rate control, shutdown.

Time: the patients' physiology and the devices' schedules run on *simulated* time, which advances ``speed``
times faster than the wall clock from the moment the run starts; every reading is stamped with the *real*
UTC time at which it is taken. So ``--speed 60`` turns a four-hourly spot check into one every four real
minutes and an episode that develops over six hours into one that develops over six minutes, while
ingest's checks on timestamps (from the future, too late, before the admission) stay valid.

Connections: with a small fleet each device connects with its own credentials, so the broker's per-device
passwords and topic ACL are exercised exactly as real devices do. Thousands of connections from one
process cost more than the traffic itself, so a large fleet (or ``per_device_connections=False``) publishes
through a few connections of the ``vward-loadgen`` service account, which the ACL lets write any device's
topic; the messages and topics are the same, so ingest cannot tell the difference.
"""

from __future__ import annotations

import heapq
import logging
import os
import random
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from device_sim.errors import SimulatorError
from device_sim.fleet import FleetDevice
from device_sim.kit import DeviceState, KitConfig, new_device, take_sample
from device_sim.physiology import Patient, advance, at_peak, new_patient, profile_for
from device_sim.publisher import LOADGEN_USERNAME, BrokerPool
from vward.config import Settings
from vward.mqtt_auth import LOADGEN_ACCOUNTS, demo_device_password

log = logging.getLogger(__name__)

PER_DEVICE_MAX = 500
_EVENTS_PER_TURN = 2000
_MAX_UNACKED = 50_000

FleetSource = Sequence[FleetDevice] | Callable[[], Sequence[FleetDevice]]


@dataclass
class SimStats:
    """Totals so far; ``acked`` counts PUBACKs (the broker has the message), not ingest's storage."""

    devices: int = 0
    sent: int = 0
    acked: int = 0
    readings: int = 0
    offline: int = 0
    buffered: int = 0
    refused: int = 0
    elapsed_s: float = 0.0

    def line(self) -> str:
        rate = self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (
            f"{self.elapsed_s:7.1f}s devices={self.devices} sent={self.sent} acked={self.acked}"
            f" rate={rate:.0f}/s readings={self.readings} offline={self.offline}"
            f" buffered={self.buffered} refused={self.refused}"
        )


class _Simulation:
    def __init__(
        self,
        settings: Settings,
        *,
        speed: float,
        rate: float | None,
        rng_seed: int,
        kit: KitConfig,
        episode_rate_per_hour: float,
        per_device: bool,
        loadgen_connections: int,
    ) -> None:
        self.settings, self.speed, self.rate, self.kit = settings, speed, rate, kit
        self.rng_seed, self.episode_rate = rng_seed, episode_rate_per_hour
        self.rng = random.Random(rng_seed)
        self.per_device, self.loadgen_connections = per_device, loadgen_connections
        self.pool = BrokerPool(settings)
        self.t0 = time.monotonic()
        self.sim_t0 = datetime.now(UTC)
        self.devices: dict[str, tuple[FleetDevice, DeviceState]] = {}
        self.patients: dict[int, Patient] = {}
        self.heap: list[tuple[datetime, int, str]] = []
        self.order: list[str] = []
        self.seq = 0
        self.issued = 0
        self.readings = 0

    def sim_now(self) -> datetime:
        return self.sim_t0 + timedelta(seconds=(time.monotonic() - self.t0) * self.speed)

    def conn_key(self, device_id: str) -> str:
        if self.per_device:
            return device_id
        return f"loadgen-{zlib.crc32(device_id.encode()) % self.loadgen_connections}"

    def open_loadgen(self) -> None:
        for i in range(self.loadgen_connections):
            self.pool.add(
                f"loadgen-{i}",
                username=f"{LOADGEN_USERNAME}-{i % LOADGEN_ACCOUNTS}",  # the broker binds client id to it
                password=self.settings.mqtt_loadgen_password,
                client_id=f"vward-loadgen-{os.getpid()}-{i}",
            )

    def set_fleet(self, fleet: Sequence[FleetDevice], deteriorate_fraction: float = 0.0) -> None:
        """Starts new devices and patients; stops those no longer in the fleet (discharged)."""
        now = self.sim_now()
        wanted = {d.device_id: d for d in fleet}
        for gone in [d for d in self.devices if d not in wanted]:
            del self.devices[gone]
            if self.per_device:
                self.pool.remove(gone)
        new_admissions = sorted({d.admission_id for d in fleet} - set(self.patients))
        first_device = {d.admission_id: d for d in reversed(fleet)}
        for adm in new_admissions:
            dev = first_device[adm]
            patient_rng = random.Random(f"{self.rng_seed}:{adm}")
            profile = profile_for(dev.ward_code, dev.pathway, dev.spo2_scale)
            patient = new_patient(adm, profile, patient_rng, age_band=dev.age_band(datetime.now(UTC).date()))
            self.patients[adm] = replace(patient, updated_at=now)
        for adm in self.rng.sample(new_admissions, round(len(new_admissions) * deteriorate_fraction)):
            self.patients[adm] = at_peak(self.patients[adm], now, self.rng)
        for adm in set(self.patients) - {d.admission_id for d in fleet}:
            del self.patients[adm]
        for dev_id, dev in wanted.items():
            if dev_id in self.devices:  # still reporting; perhaps now for another admission
                self.devices[dev_id] = (dev, self.devices[dev_id][1])
                continue
            state = new_device(dev_id, dev.kind, now, self.kit, self.rng)
            self.devices[dev_id] = (dev, state)
            heapq.heappush(self.heap, (state.next_due, self.seq, dev_id))
            self.seq += 1
            if self.per_device:
                self.pool.add(
                    dev_id,
                    username=dev_id,
                    client_id=dev_id,
                    password=demo_device_password(self.settings.sim_device_secret, dev_id),
                )
        self.order = sorted(self.devices)
        self.rng.shuffle(self.order)

    def sample(self, dev_id: str, *, flush: bool) -> None:
        dev, state = self.devices[dev_id]
        sim_now = self.sim_now()
        patient = advance(self.patients[dev.admission_id], sim_now, self.rng, episode_rate_per_hour=self.episode_rate)
        self.patients[dev.admission_id] = patient
        messages = take_sample(
            state, patient, sim_now=sim_now, real_now=datetime.now(UTC), config=self.kit, rng=self.rng, flush=flush
        )
        for message in messages:
            self.pool.publish(self.conn_key(dev_id), dev_id, message)
            self.readings += len(message)

    def turn(self) -> float:
        """Takes the samples that are due; returns how long the caller may wait for the next one."""
        if self.pool.unacked > _MAX_UNACKED or not self.devices:
            return 0.05
        if self.rate is not None:
            owed = min(int((time.monotonic() - self.t0) * self.rate) - self.issued, _EVENTS_PER_TURN)
            for _ in range(max(0, owed)):
                self.sample(self.order[self.issued % len(self.order)], flush=True)
                self.issued += 1
            return 0.0 if owed >= _EVENTS_PER_TURN else min(0.05, 1.0 / self.rate)
        now = self.sim_now()
        for _ in range(_EVENTS_PER_TURN):
            if not self.heap or self.heap[0][0] > now:
                break
            due, _, dev_id = heapq.heappop(self.heap)
            if dev_id not in self.devices or self.devices[dev_id][1].next_due != due:
                continue  # the device left the fleet (and perhaps came back with a new schedule)
            self.sample(dev_id, flush=False)
            heapq.heappush(self.heap, (self.devices[dev_id][1].next_due, self.seq, dev_id))
            self.seq += 1
        if not self.heap:
            return 0.1
        return min(0.1, max(0.0, (self.heap[0][0] - self.sim_now()).total_seconds() / self.speed))

    def stats(self) -> SimStats:
        states = [s for _, s in self.devices.values()]
        return SimStats(
            devices=len(states),
            sent=self.pool.sent,
            acked=self.pool.acked,
            readings=self.readings,
            offline=sum(s.offline for s in states),
            buffered=sum(len(s.pending) for s in states),
            refused=len(self.pool.refused),
            elapsed_s=time.monotonic() - self.t0,
        )


def run_simulation(
    settings: Settings,
    fleet: FleetSource,
    *,
    speed: float = 1.0,
    rate: float | None = None,
    duration_s: float | None = None,
    rng_seed: int = 0,
    stop_event: threading.Event | None = None,
    kit: KitConfig | None = None,
    deteriorate_fraction: float = 0.0,
    episode_rate_per_hour: float = 0.005,
    per_device_connections: bool | None = None,
    loadgen_connections: int = 4,
    refresh_every_s: float = 30.0,
    progress_every_s: float = 5.0,
    on_progress: Callable[[SimStats], None] | None = None,
) -> SimStats:
    """Drives the fleet until ``duration_s`` passes or ``stop_event`` is set; returns the totals.

    ``fleet`` is a list of devices, or a function re-called every ``refresh_every_s`` (new admissions start
    reporting, discharged ones stop). ``rate`` (messages/s, spread round-robin over the devices) replaces the
    devices' natural schedules for load tests. ``per_device_connections`` defaults to True up to
    ``PER_DEVICE_MAX`` devices.
    """
    if speed <= 0 or (rate is not None and rate <= 0) or not 0.0 <= deteriorate_fraction <= 1.0:
        raise SimulatorError("speed and rate must be positive and deteriorate_fraction within 0..1")
    source = fleet if callable(fleet) else None
    initial = list(source() if source else fleet)  # type: ignore[operator, arg-type]
    per_device = len(initial) <= PER_DEVICE_MAX if per_device_connections is None else per_device_connections
    sim = _Simulation(
        settings,
        speed=speed,
        rate=rate,
        rng_seed=rng_seed,
        kit=kit or KitConfig(),
        episode_rate_per_hour=episode_rate_per_hour,
        per_device=per_device,
        loadgen_connections=max(1, loadgen_connections),
    )
    stop_event = stop_event or threading.Event()
    try:
        if not per_device:
            sim.open_loadgen()
        sim.set_fleet(initial, deteriorate_fraction)
        sim.pool.wait_connected(10.0)
        sim.t0 = time.monotonic()  # rate and duration count from here, not from the setup of a large fleet
        if sim.pool.refused and not sim.pool.connected_count():
            raise SimulatorError(
                "the broker refused every connection: are the device credentials synced"
                " (vward.services.sync_device_credentials) and the secrets the same?"
            )
        last_progress = last_refresh = time.monotonic()
        while not stop_event.is_set():
            now = time.monotonic()
            if duration_s is not None and now - sim.t0 >= duration_s:
                break
            if source is not None and now - last_refresh >= refresh_every_s:
                last_refresh = now
                try:
                    sim.pool.retry_refused()
                    sim.set_fleet(list(source()))
                except Exception as exc:  # a database blip must not stop the devices; retry next time
                    log.warning("fleet refresh failed: %s", exc)
            if on_progress is not None and now - last_progress >= progress_every_s:
                last_progress = now
                on_progress(sim.stats())
            sim.pool.service(sim.turn())
    finally:
        sim.pool.close()
    return sim.stats()
