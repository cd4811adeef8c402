"""Ingest and the simulator exchange readings through Mosquitto's TLS listener (throw-away CA, vward.mqtt_tls).

The session's broker listens in plain text on ``mqtt_port`` and with TLS on ``mqtt_tls_port``; switching
the settings to the TLS port with ``mqtt_tls`` on is all ingest and the simulator need, since both build
their clients with ``vward.mqtt_client``.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from device_sim.fleet import load_fleet
from device_sim.kit import KitConfig
from device_sim.runner import run_simulation
from ingest.metrics import IngestMetrics
from ingest.worker import IngestWorker, ingest_username
from tests.integration.mqtt_helpers import admit_patients, count, wait_until
from vward import mqtt_client
from vward.config import Settings
from vward.ephemeral import EphemeralServices
from vward.mqtt_tls import ensure_throwaway_certs

KIT = KitConfig(
    spot_check_interval=timedelta(seconds=60),
    wearable_sample_interval=timedelta(seconds=20),
    wearable_samples_per_message=3,
    offline_chance=0.0,
)


@pytest.fixture(scope="module")
def tls_settings(test_services: EphemeralServices) -> Settings:
    assert test_services.settings.mqtt_tls_port is not None
    return test_services.settings.model_copy(
        update={
            "mqtt_port": test_services.settings.mqtt_tls_port,
            "mqtt_tls": True,
            "mqtt_tls_ca_file": test_services.base / "mosquitto" / "tls" / "ca.crt",
            "mqtt_shared_group": None,
        }
    )


@pytest.fixture
def tls_ingest(tls_settings: Settings) -> Iterator[IngestWorker]:
    stop = threading.Event()
    worker = IngestWorker(tls_settings, metrics=IngestMetrics(), index=1)  # an ingest account of its own
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"leave": True}, daemon=True)
    thread.start()
    assert worker.subscribed.wait(30), "ingest did not subscribe over TLS"
    yield worker
    stop.set()
    thread.join(30)
    assert not thread.is_alive(), "ingest did not stop"


def test_simulated_devices_reach_ingest_over_tls(
    tls_settings: Settings, tls_ingest: IngestWorker, clean_db: psycopg.Connection
) -> None:
    assert isinstance(tls_ingest.client.socket(), ssl.SSLSocket)
    admit_patients(clean_db, tls_settings, 2)
    fleet = load_fleet(clean_db)
    stop = threading.Event()
    errors: list[BaseException] = []

    def simulate() -> None:
        try:
            run_simulation(tls_settings, fleet, speed=60.0, kit=KIT, stop_event=stop, per_device_connections=True)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=simulate, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: count(clean_db, "SELECT count(DISTINCT device_id) FROM readings") == len(fleet),
            "a stored reading from every simulated device",
        )
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and not errors, errors
    assert count(clean_db, "SELECT count(*) FROM quarantine") == 0


def _connack(settings: Settings) -> mqtt.ReasonCode | Exception:
    """The broker's answer to the ingest account connecting with these settings, or the error raised."""
    account = ingest_username(settings, 2)
    client = mqtt_client.new_client(
        settings, client_id=account, username=account, password=settings.mqtt_ingest_password
    )
    answered = threading.Event()
    result: dict[str, mqtt.ReasonCode] = {}

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object) -> None:
        result["reason"] = reason
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *_: answered.set()
    try:
        mqtt_client.connect(client, settings)
    except OSError as exc:
        return exc
    client.loop_start()
    try:
        assert answered.wait(30), "neither CONNACK nor disconnect"
    finally:
        client.disconnect()
        client.loop_stop()
    return result.get("reason", ConnectionError("disconnected without CONNACK"))


def test_the_tls_listener_accepts_only_clients_that_trust_its_ca(tls_settings: Settings, tmp_path: Path) -> None:
    accepted = _connack(tls_settings)
    assert isinstance(accepted, mqtt.ReasonCode) and not accepted.is_failure
    plain = _connack(tls_settings.model_copy(update={"mqtt_tls": False}))
    assert not isinstance(plain, mqtt.ReasonCode), "a plain-text client got a CONNACK from the TLS listener"
    # Trusting another CA, the handshake fails (on a bare socket: paho leaves a failed one unclosed).
    other = tls_settings.model_copy(update={"mqtt_tls_ca_file": ensure_throwaway_certs(tmp_path / "other").ca})
    with (
        socket.create_connection((other.mqtt_host, other.mqtt_port), timeout=30) as sock,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        mqtt_client.tls_context(other).wrap_socket(sock, server_hostname=other.mqtt_host).close()
