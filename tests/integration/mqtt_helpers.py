"""Small real-broker helpers for integration tests: admit patients with device kits, publish, wait."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

from vward import services
from vward.config import Settings, broker_service_accounts
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
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(max_inflight)
    if username is not None:
        client.username_pw_set(username, password)
    result: dict[str, mqtt.ReasonCode] = {}
    client.on_connect = lambda _c, _u, _f, reason, _p: result.setdefault("reason", reason)
    client.connect(settings.mqtt_host, settings.mqtt_port)
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
