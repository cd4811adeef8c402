"""The broker logs what it denies: a device's publish on another device's topic and a rogue ``$share``
subscription each leave a line naming the client and the topic in ``mosquitto.log``, and the per-reading
debug lines they come with do not (vward.broker_log_watcher filters Mosquitto's debug log).

Lines reach the log in the broker's order through one pipe, so a later denial is a barrier: once it is in
the log, every line the broker wrote before it has been kept or dropped.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

from tests.integration.mqtt_helpers import admit_patients, close, connect, device_client, wait_until
from vward import services
from vward.config import Settings
from vward.contract import READINGS_TOPIC_FILTER, encode_readings, readings_topic
from vward.mqtt_auth import demo_device_password

_READING = [{"measured_at": "2026-11-23T08:15:00Z", "spo2": 95, "hr": 80}]


def _log(settings: Settings) -> Path:
    return services.mosquitto_dir(settings.state_dir) / "mosquitto.log"


def _lines_after(settings: Settings, offset: int) -> list[str]:
    with _log(settings).open("rb") as log:
        log.seek(offset)
        return log.read().decode().splitlines()


def _wait_for_line(settings: Settings, offset: int, text: str) -> list[str]:
    """The log's lines after ``offset``, once one contains ``text``."""
    wait_until(lambda: any(text in line for line in _lines_after(settings, offset)), f"{text!r} in the log")
    return _lines_after(settings, offset)


def _subscribe(client: mqtt.Client, topic: str) -> bool:
    """Whether the broker granted the subscription (from its SUBACK)."""
    granted: list[bool] = []
    client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.append(not codes[0].is_failure)
    client.subscribe(topic, qos=1)
    wait_until(lambda: granted, "SUBACK")
    return granted[0]


def test_denied_publish_and_rogue_share_subscription_are_logged_without_the_readings(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    first, second = admit_patients(clean_db, settings, 2)
    device_a, device_b = str(first["pulse_oximeter"]), str(second["pulse_oximeter"])
    offset = _log(settings).stat().st_size
    device = device_client(settings, device_a)
    try:
        device.publish(readings_topic(device_b), encode_readings(_READING), qos=1).wait_for_publish(30)
        lines = _wait_for_line(settings, offset, f"Denied PUBLISH from {device_a} ")
        assert any(f"'{readings_topic(device_b)}'" in line for line in lines if "Denied PUBLISH" in line)

        device.publish(readings_topic(device_a), encode_readings(_READING), qos=1).wait_for_publish(30)
        rogue = f"$share/ingest/{READINGS_TOPIC_FILTER}"
        assert not _subscribe(device, rogue)
        lines = _wait_for_line(settings, offset, f"Denied SUBSCRIBE from {device_a} ('{rogue}', QoS 1)")
    finally:
        close(device)
    chatter = [line for line in lines if ("PUBLISH" in line and "Denied" not in line) or "PUBACK" in line]
    assert chatter == [], "the broker's per-reading debug lines reached the log"


def test_a_granted_subscription_is_not_reported_as_denied(settings: Settings, clean_db: psycopg.Connection) -> None:
    device = str(admit_patients(clean_db, settings, 1)[0]["thermometer"])
    offset = _log(settings).stat().st_size
    ingest, reason = connect(settings, "vward-ingest-1", settings.mqtt_ingest_password)
    assert not reason.is_failure
    rogue, reason = connect(settings, device, demo_device_password(settings.sim_device_secret, device))
    assert not reason.is_failure
    try:
        assert _subscribe(ingest, READINGS_TOPIC_FILTER)
        assert not _subscribe(rogue, "$SYS/#")  # the barrier: logged after ingest's subscription
        lines = _wait_for_line(settings, offset, f"Denied SUBSCRIBE from {device} ('$SYS/#', QoS 1)")
    finally:
        close(ingest)
        close(rogue)
    assert not any("Denied SUBSCRIBE from vward-ingest-1" in line for line in lines)


def test_a_restarted_log_watcher_reattaches_to_the_running_broker(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    first, second = admit_patients(clean_db, settings, 2)
    device_a, device_b = str(first["pulse_oximeter"]), str(second["pulse_oximeter"])
    watcher = services.mosquitto_dir(settings.state_dir) / services.BROKER_LOG_PID
    broker_pid = services.mosquitto_dir(settings.state_dir) / "mosquitto.pid"
    broker_before = broker_pid.read_text()
    os.kill(int(watcher.read_text()), signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{watcher.read_text()}/cmdline").exists(), "the watcher's end")
    services.start_broker_log(settings.state_dir)  # as systemd's Restart=always would; the broker runs on
    offset = _log(settings).stat().st_size
    device = device_client(settings, device_a)
    try:
        device.publish(readings_topic(device_b), encode_readings(_READING), qos=1).wait_for_publish(30)
        _wait_for_line(settings, offset, f"Denied PUBLISH from {device_a} ")
    finally:
        close(device)
    assert broker_pid.read_text() == broker_before, "the broker was not restarted"
