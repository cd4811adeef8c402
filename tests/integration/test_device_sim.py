"""The simulator against the real broker: each device on its own topic with its own credentials, readings
valid by the contract, offline buffers published as batches with their original times, the load mode."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from device_sim.errors import SimulatorError
from device_sim.fleet import FleetDevice, load_fleet, register_synthetic_fleet
from device_sim.kit import KIND_VITALS, KitConfig
from device_sim.publisher import publish_readings
from device_sim.runner import SimStats, run_simulation
from tests.integration.mqtt_helpers import admit_patients, close, connect, count, wait_until
from vward import services
from vward.config import Settings, broker_service_accounts
from vward.contract import READINGS_TOPIC_FILTER, Reading, ReadingBatch, device_id_from_topic
from vward.ephemeral import settings_env

FAST_KIT = KitConfig(
    spot_check_interval=timedelta(seconds=60),
    wearable_sample_interval=timedelta(seconds=20),
    wearable_samples_per_message=3,
    offline_chance=0.5,
    offline_duration=(timedelta(seconds=30), timedelta(seconds=60)),
)


class Subscriber:
    """What ingest would receive: every device topic, as the ingest service account."""

    def __init__(self, settings: Settings) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        # An ingest account of its own (the broker makes the username the client id): index 7, unused by ingest.
        self.client, reason = connect(settings, f"{settings.mqtt_ingest_username}-7", settings.mqtt_ingest_password)
        assert not reason.is_failure, reason
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.subscribe(READINGS_TOPIC_FILTER, qos=1)
        wait_until(self._subscribed.is_set, "SUBACK")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload))

    def parsed(self) -> list[tuple[str, list[Reading]]]:
        """(device id, readings) per message; fails the test if any payload breaks the contract."""
        with self._lock:
            messages = list(self.messages)
        out = []
        for topic, payload in messages:
            device = device_id_from_topic(topic)
            assert device is not None, topic
            if payload.startswith(b'{"readings"'):
                out.append((device, list(ReadingBatch.model_validate_json(payload).readings)))
            else:
                out.append((device, [Reading.model_validate_json(payload)]))
        return out


@contextmanager
def simulating(
    settings: Settings, fleet: list[FleetDevice] | Callable[[], list[FleetDevice]], **options: object
) -> Iterator[tuple[threading.Event, list[SimStats]]]:
    """Runs the simulator in a thread until the block ends; yields its stop event and (after) its totals."""
    stop = threading.Event()
    totals: list[SimStats] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            totals.append(run_simulation(settings, fleet, stop_event=stop, rng_seed=1, **options))  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield stop, totals
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive(), "the simulator did not stop"
    assert not errors, errors


def test_each_device_publishes_on_its_own_topic_with_its_own_credentials(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    admit_patients(clean_db, settings, 2)
    fleet = load_fleet(clean_db)
    assert len(fleet) == 10
    kinds = {d.device_id: d.kind for d in fleet}
    sub = Subscriber(settings)
    started = datetime.now(UTC)

    def buffered_batches() -> list[list[Reading]]:
        return [rs for dev, rs in sub.parsed() if kinds[dev] != "wearable" and len(rs) > 1]

    def seen_everything() -> bool:
        parsed = sub.parsed()
        return (
            {dev for dev, _ in parsed} == set(kinds)
            and bool(buffered_batches())
            and any(len(rs) == 1 for _, rs in parsed)
        )

    try:
        with simulating(
            settings, fleet, speed=60.0, kit=FAST_KIT, per_device_connections=True, deteriorate_fraction=0.5
        ) as (_stop, totals):
            wait_until(seen_everything, "every device's readings, single and buffered")
    finally:
        close(sub.client)

    assert totals[0].refused == 0 and totals[0].sent == totals[0].acked > 0
    for dev, readings in sub.parsed():
        expected = set(KIND_VITALS[kinds[dev]])
        for r in readings:
            assert all(getattr(r, vital) is not None for vital in expected)
            assert started - timedelta(seconds=1) <= r.measured_at <= datetime.now(UTC)
    batch = buffered_batches()[0]
    times = [r.measured_at for r in batch]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[-1] - times[0] >= timedelta(seconds=0.3)  # taken across the offline spell, not at publish


def test_new_admissions_start_reporting(settings: Settings, clean_db: psycopg.Connection) -> None:
    admit_patients(clean_db, settings, 1, seed=2)
    sub = Subscriber(settings)

    def db_fleet() -> list[FleetDevice]:
        with psycopg.connect(settings.database_url) as conn:
            return load_fleet(conn)

    kit = KitConfig(spot_check_interval=timedelta(seconds=30), offline_chance=0.0)
    try:
        with simulating(settings, db_fleet, speed=60.0, kit=kit, refresh_every_s=0.2):
            wait_until(lambda: sub.parsed(), "the first patient's readings")
            new_kit = admit_patients(clean_db, settings, 1, seed=3)[0]
            wait_until(lambda: new_kit["thermometer"] in {dev for dev, _ in sub.parsed()}, "the new patient's readings")
    finally:
        close(sub.client)


def test_load_mode_publishes_device_topics_through_loadgen_at_a_set_rate(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    fleet = register_synthetic_fleet(clean_db, 40, settings)
    assert len(fleet) == 200 and len({d.device_id for d in fleet}) == 200
    # The load mode needs no device passwords; registering them still lets per-device mode run at scale.
    services.sync_device_credentials(clean_db, settings.state_dir, broker_service_accounts(settings))
    sub = Subscriber(settings)
    try:
        with simulating(
            settings,
            fleet,
            rate=500.0,
            per_device_connections=False,
            loadgen_connections=2,
            kit=KitConfig(offline_chance=0.0),
        ) as (_stop, totals):
            wait_until(lambda: len({dev for dev, _ in sub.parsed()}) == 200, "a message from every device")
    finally:
        close(sub.client)
    assert totals[0].sent == totals[0].acked >= 200
    assert totals[0].devices == 200 and totals[0].refused == 0
    assert all(len(rs) == 1 for _, rs in sub.parsed())  # one message per event, even from wearables


def test_cli_reports_progress_and_stops_cleanly_on_sigterm(settings: Settings) -> None:
    vward = Path(sys.executable).parent / "vward"
    proc = subprocess.Popen(
        [str(vward), "simulate", "--synthetic", "20", "--rate", "100", "--progress-every", "0.2"],
        env=settings_env(settings),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "sent=" in first and "acked=" in first and "offline=" in first, first
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, rest
    totals = [line for line in rest.splitlines() if line.startswith("totals:")]
    assert len(totals) == 1 and "devices=20" in totals[0] and "refused=0" in totals[0]


def test_ingest_stores_and_scores_the_simulated_readings_without_quarantine(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: object
) -> None:
    admit_patients(clean_db, settings, 2, seed=4)
    fleet = load_fleet(clean_db)

    def stored_devices() -> int:
        return count(clean_db, "SELECT count(DISTINCT device_id) FROM readings")

    with simulating(settings, fleet, speed=60.0, kit=FAST_KIT, deteriorate_fraction=1.0):
        wait_until(lambda: stored_devices() == len(fleet), "readings from every device in the database")
        # Both patients start at the peak of an episode: NEWS2 sees it (medium risk or worse).
        wait_until(
            lambda: count(clean_db, "SELECT coalesce(max(news2_total), 0) FROM readings") >= 5,
            "a NEWS2 score of 5 or more",
        )
    assert count(clean_db, "SELECT count(*) FROM quarantine") == 0


def test_publish_readings_sends_one_known_batch_as_the_device(settings: Settings, clean_db: psycopg.Connection) -> None:
    device = str(admit_patients(clean_db, settings, 1, seed=5)[0]["thermometer"])
    batch = [
        {"measured_at": "2026-11-23T08:00:00Z", "temp": 37.9},
        {"measured_at": "2026-11-23T09:00:00Z", "temp": 38.4},
    ]
    sub = Subscriber(settings)
    try:
        publish_readings(settings, device, batch)
        wait_until(lambda: sub.parsed(), "the batch")
        with pytest.raises(SimulatorError):
            publish_readings(settings, device, batch, password="not-its-password")
    finally:
        close(sub.client)
    assert [(dev, [r.temp for r in rs]) for dev, rs in sub.parsed()] == [(device, [37.9, 38.4])]
