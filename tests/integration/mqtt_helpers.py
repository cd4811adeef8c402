"""Small real-broker helpers for integration tests: admit patients with device kits, publish, wait, and
run ingest as a process of its own with its faults under the test's control."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

from vward import mqtt_client, services
from vward.config import Settings, broker_service_accounts
from vward.contract import encode_readings, readings_topic
from vward.ephemeral import settings_env
from vward.mqtt_auth import demo_device_password
from vward.seed import DEVICE_KINDS, admit_demo_patient, device_id, seed_demo_users


def admit_patients(
    conn: psycopg.Connection,
    settings: Settings,
    n: int,
    *,
    ward_code: str = "resp-ari",
    seed: int = 1,
    hypercapnic: bool = False,
    child: bool = False,
) -> list[dict[str, str | int]]:
    """Admits n patients with full device kits and gives the broker their credentials."""
    if conn.execute("SELECT count(*) FROM users").fetchone() == (0,):
        seed_demo_users(conn)
    ward = conn.execute("SELECT id FROM wards WHERE code = %s", (ward_code,)).fetchone()
    assert ward is not None
    rng = random.Random(seed)
    kits = []
    for _ in range(n):
        admission = admit_demo_patient(
            conn,
            ward[0],
            device_secret=settings.sim_device_secret,
            rng=rng,
            now=datetime.now(UTC),
            hypercapnic=hypercapnic,
            child=child,
            admitted_at=datetime.now(UTC) - timedelta(days=1),
        )
        kits.append({"admission_id": admission, **{kind: device_id(kind, admission) for kind in DEVICE_KINDS}})
    services.sync_device_credentials(conn, Path(settings.state_dir), broker_service_accounts(settings))
    return kits


def connect(
    settings: Settings, username: str | None, password: str | None, *, client_id: str = "", max_inflight: int = 20
) -> tuple[mqtt.Client, mqtt.ReasonCode]:
    """A started client and the broker's CONNACK reason."""
    client = mqtt_client.new_client(settings, client_id=client_id, username=username, password=password)
    client.max_inflight_messages_set(max_inflight)
    result: dict[str, mqtt.ReasonCode] = {}
    client.on_connect = lambda _c, _u, _f, reason, _p: result.setdefault("reason", reason)
    mqtt_client.connect(client, settings)
    client.loop_start()
    wait_until(lambda: "reason" in result, "CONNACK")
    return client, result["reason"]


def device_client(settings: Settings, device: str) -> mqtt.Client:
    client, reason = connect(settings, device, demo_device_password(settings.sim_device_secret, device))
    assert not reason.is_failure, reason
    return client


def loadgen_client(settings: Settings) -> mqtt.Client:
    client, reason = connect(settings, "vward-loadgen-0", settings.mqtt_loadgen_password, max_inflight=1000)
    assert not reason.is_failure, reason
    return client


def publish_all(client: mqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    """Publishes at QoS 1 and waits for every PUBACK."""
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=60)
        assert info.is_published()


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def wait_until(check: Callable[[], object], what: str, timeout_s: float = 60.0) -> None:
    """Polls until ``check`` is truthy; a deadline only guards against a hang, it measures nothing."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def count(conn: psycopg.Connection, sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


# -- ingest as a separate process, and faults under the test's control -------------------------------
VWARD = str(Path(sys.executable).with_name("vward"))


def start_ingest(settings: Settings, index: int, metrics_port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``vward ingest --index N`` as a child process (its metrics and /healthz on ``metrics_port``)."""
    environment = {
        **settings_env(settings),
        "VWARD_INGEST_METRICS_PORT": str(metrics_port - index),  # ingest serves on this + its index
        **{f"VWARD_{key.upper()}": value for key, value in env.items()},
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [VWARD, "ingest", "--index", str(index)], env=environment, stdout=out, stderr=subprocess.STDOUT
        )


def stop_ingest(ingest: subprocess.Popen[bytes]) -> None:
    """SIGTERM (flush, commit, ack) and wait; a clean exit is part of what every fault test checks."""
    if ingest.poll() is None:
        ingest.send_signal(signal.SIGTERM)
        assert ingest.wait(60) == 0, "ingest did not exit cleanly on SIGTERM"


def health(port: int) -> tuple[int, dict[str, object]]:
    """(status, body) of an ingest's /healthz; (0, {}) while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())
    except OSError:
        return 0, {}


def metric(port: int, name: str) -> float:
    """One sample of an ingest's Prometheus metrics (0 if absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        for line in response.read().decode().splitlines():
            if line.split(" ")[0] == name:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@contextmanager
def writer_held(settings: Settings) -> Iterator[None]:
    """Holds every ingest writer at its next batch: the test's transaction locks ``readings`` until exit."""
    conn = psycopg.connect(settings.database_url)
    try:
        conn.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        with suppress(psycopg.OperationalError):  # the test stopped PostgreSQL meanwhile, ending the lock too
            conn.rollback()
        conn.close()


def drop_session(settings: Settings, index: int) -> None:
    """Ends ingest ``index``'s persistent session, so the broker stops queueing for it."""
    username = f"{settings.mqtt_ingest_username}-{index}"
    client, _ = connect(settings, username, settings.mqtt_ingest_password)
    close(client)


def deteriorating_messages(kit: dict[str, str | int], now: datetime) -> list[tuple[str, bytes]]:
    """Three readings that together make a high NEWS2 risk (RR 26, SpO2 91, HR 124, 39.2 °C): one alert."""
    return [
        (
            readings_topic(str(kit["wearable"])),
            encode_readings([{"measured_at": (now - timedelta(minutes=3)).isoformat(), "rr": 26, "hr": 125}]),
        ),
        (
            readings_topic(str(kit["pulse_oximeter"])),
            encode_readings(
                [{"measured_at": (now - timedelta(minutes=2)).isoformat(), "spo2": 91, "hr": 124, "on_oxygen": False}]
            ),
        ),
        (
            readings_topic(str(kit["thermometer"])),
            encode_readings([{"measured_at": (now - timedelta(minutes=1)).isoformat(), "temp": 39.2}]),
        ),
    ]


def numbered_messages(
    kits: list[dict[str, str | int]], first: int, n: int, *, start: datetime | None = None
) -> list[tuple[str, bytes]]:
    """``n`` one-reading messages, each with its own (device, measured_at); ``first`` numbers them."""
    start = start or datetime.now(UTC) - timedelta(hours=3)
    out = []
    for i in range(first, first + n):
        kit = kits[i % len(kits)]
        at = (start + timedelta(seconds=i)).isoformat()
        out.append((readings_topic(str(kit["wearable"])), encode_readings([{"measured_at": at, "hr": 60 + i % 50}])))
    return out
