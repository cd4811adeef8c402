"""`kill -9` of ingest mid-burst, more published while it is down than Mosquitto's default queue holds,
then a restart under the same client id: every reading stored exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from tests.integration.mqtt_helpers import (
    admit_patients,
    close,
    count,
    loadgen_client,
    publish_all,
    wait_until,
)
from vward.config import Settings
from vward.contract import encode_readings, readings_topic
from vward.ephemeral import free_port, settings_env

VWARD = str(Path(sys.executable).with_name("vward"))


def _start_ingest(settings: Settings, metrics_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **settings_env(settings),
        "VWARD_INGEST_METRICS_PORT": str(metrics_port),
        "VWARD_MQTT_CLIENT_ID": "vward-ingest-recovery-0",
        "VWARD_INGEST_BATCH_MAX_READINGS": "500",
    }
    with log.open("ab") as out:
        return subprocess.Popen([VWARD, "ingest", "--index", "0"], env=env, stdout=out, stderr=subprocess.STDOUT)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _messages(kits: list[dict[str, str | int]], start: datetime, first: int, n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(first, first + n):
        kit = kits[i % len(kits)]
        at = (start + timedelta(seconds=i)).isoformat()
        out.append((readings_topic(str(kit["wearable"])), encode_readings([{"measured_at": at, "hr": 60 + i % 50}])))
    return out


def test_kill_9_mid_burst_then_restart_loses_and_duplicates_nothing(
    settings: Settings, clean_db: psycopg.Connection, tmp_path: Path
) -> None:
    kits = admit_patients(clean_db, settings, 5)
    port = free_port()
    start = datetime.now(UTC) - timedelta(hours=3)
    ingest = _start_ingest(settings, port, tmp_path / "ingest.log")
    try:
        wait_until(lambda: _healthy(port), "ingest health")
        publisher = loadgen_client(settings)
        first_burst = _messages(kits, start, 0, 4000)
        infos = [publisher.publish(topic, payload, qos=1) for topic, payload in first_burst]
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") > 500, "ingest to be mid-burst")
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(10)
        for info in infos:
            info.wait_for_publish(timeout=60)
        stored_at_kill = count(clean_db, "SELECT count(*) FROM readings")
        assert stored_at_kill < 4000, "the kill came too late to test anything"
        publish_all(publisher, _messages(kits, start, 4000, 2500))  # > Mosquitto's default queue of 1000
        close(publisher)

        ingest = _start_ingest(settings, port, tmp_path / "ingest.log")
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") >= 6500, "every reading", 120)
        wait_until(lambda: _healthy(port), "ingest health")
        assert count(clean_db, "SELECT count(*) FROM readings") == 6500
        assert count(clean_db, "SELECT count(DISTINCT (device_id, measured_at)) FROM readings") == 6500
        assert count(clean_db, "SELECT count(*) FROM quarantine") == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            metrics = response.read().decode()
        assert "vward_ingest_readings_stored_total" in metrics
    finally:
        if ingest.poll() is None:
            ingest.send_signal(signal.SIGTERM)
            assert ingest.wait(30) == 0, "ingest did not exit cleanly on SIGTERM"
        _drop_session(settings)


def _drop_session(settings: Settings) -> None:
    """Ends the test's persistent session so the broker stops queueing for it."""
    from tests.integration.mqtt_helpers import connect

    client, _ = connect(
        settings, settings.mqtt_ingest_username, settings.mqtt_ingest_password, client_id="vward-ingest-recovery-0"
    )
    client.disconnect()
    client.loop_stop()
