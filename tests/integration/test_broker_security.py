"""The broker's trust model: known identities only, a device publishes only on its own topic and subscribes
to nothing, and no account can take another's client id (so no device can steal or end ingest's session).

MQTT 3.1.1 brokers drop an unauthorised publish silently (the publisher even gets its PUBACK), so the
topic test asserts on what the subscriber receives, using a later publish on the device's own topic as a
barrier: the broker handles one client's messages in order, so once the barrier arrives anything the
forbidden publish could have delivered would already be there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg

from ingest.worker import IngestWorker
from tests.integration.mqtt_helpers import (
    admit_patients,
    close,
    connect,
    count,
    device_client,
    loadgen_client,
    publish_all,
    wait_until,
)
from vward.config import Settings
from vward.contract import READINGS_TOPIC_FILTER, encode_readings, readings_topic
from vward.mqtt_auth import demo_device_password

_READING = [{"measured_at": "2026-11-23T08:15:00Z", "spo2": 95, "hr": 80}]
_FILTERS = [
    READINGS_TOPIC_FILTER,
    f"$share/ingest/{READINGS_TOPIC_FILTER}",
    f"$share/rogue/{READINGS_TOPIC_FILTER}",
    "$SYS/#",
    "#",
]


def _subscribe_codes(client: mqtt.Client, filters: list[str]) -> list[bool]:
    """Whether the broker granted each subscription (from its SUBACK)."""
    granted: dict[int, bool] = {}
    client.on_subscribe = lambda _c, _u, mid, codes, _p: granted.setdefault(mid, not codes[0].is_failure)
    mids = [client.subscribe(f, qos=1)[1] for f in filters]
    wait_until(lambda: all(mid in granted for mid in mids), "SUBACKs")
    return [granted[mid] for mid in mids]


def test_anonymous_client_is_refused(settings: Settings) -> None:
    client, reason = connect(settings, None, None)
    close(client)
    assert reason.is_failure
    assert reason.value in (134, 135)  # bad user name or password / not authorised (paho's names for 4, 5)


def test_wrong_password_is_refused(settings: Settings, clean_db: psycopg.Connection) -> None:
    kit = admit_patients(clean_db, settings, 1)[0]
    device = str(kit["pulse_oximeter"])
    client, reason = connect(settings, device, demo_device_password("another-secret", device))
    close(client)
    assert reason.is_failure
    good, reason = connect(settings, device, demo_device_password(settings.sim_device_secret, device))
    close(good)
    assert not reason.is_failure  # the same device with its real password is let in


def test_devices_and_loadgen_can_subscribe_to_nothing(settings: Settings, clean_db: psycopg.Connection) -> None:
    kit = admit_patients(clean_db, settings, 1)[0]
    device = str(kit["pulse_oximeter"])
    for client in (device_client(settings, device), loadgen_client(settings)):
        try:
            assert _subscribe_codes(client, [*_FILTERS, readings_topic(device)]) == [False] * (len(_FILTERS) + 1)
        finally:
            close(client)
    ingest, reason = connect(settings, "vward-ingest-1", settings.mqtt_ingest_password)
    assert not reason.is_failure
    try:  # ingest may read the readings (plain or in its own group), nothing else
        assert _subscribe_codes(ingest, _FILTERS) == [True, True, False, False, False]
    finally:
        close(ingest)


def test_device_cannot_publish_on_another_devices_topic(settings: Settings, clean_db: psycopg.Connection) -> None:
    first, second = admit_patients(clean_db, settings, 2)
    device_a, device_b = str(first["pulse_oximeter"]), str(second["pulse_oximeter"])
    received: list[str] = []
    sub, reason = connect(settings, "vward-ingest-1", settings.mqtt_ingest_password)
    assert not reason.is_failure

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        received.append(msg.topic)

    sub.on_message = on_message
    assert _subscribe_codes(sub, [READINGS_TOPIC_FILTER]) == [True]
    publisher = device_client(settings, device_a)
    try:
        publisher.publish(readings_topic(device_b), encode_readings(_READING), qos=1).wait_for_publish(30)
        publisher.publish(readings_topic(device_a), encode_readings(_READING), qos=1).wait_for_publish(30)
        wait_until(lambda: readings_topic(device_a) in received, "the barrier on the device's own topic")
    finally:
        close(publisher)
        close(sub)
    assert received == [readings_topic(device_a)]


def _messages(kits: list[dict[str, str | int]], first: int, n: int) -> list[tuple[str, bytes]]:
    start = datetime.now(UTC) - timedelta(hours=2)
    return [
        (
            readings_topic(str(kits[i % len(kits)]["wearable"])),
            encode_readings([{"measured_at": (start + timedelta(seconds=i)).isoformat(), "hr": 60 + i % 40}]),
        )
        for i in range(first, first + n)
    ]


def test_rogue_share_subscription_is_refused_and_nothing_is_lost(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: IngestWorker
) -> None:
    kits = admit_patients(clean_db, settings, 3)
    rogue_device = str(kits[0]["thermometer"])
    rogue, reason = connect(
        settings, rogue_device, demo_device_password(settings.sim_device_secret, rogue_device), client_id=rogue_device
    )
    assert not reason.is_failure
    publisher = loadgen_client(settings)
    try:
        assert _subscribe_codes(rogue, [f"$share/ingest/{READINGS_TOPIC_FILTER}"]) == [False]
        publish_all(publisher, _messages(kits, 0, 300))
    finally:
        close(rogue)
        close(publisher)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 300, "all 300 readings")
    assert count(clean_db, "SELECT count(DISTINCT (device_id, measured_at)) FROM readings") == 300


def test_a_device_using_ingests_client_id_cannot_disconnect_ingest(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: IngestWorker
) -> None:
    kits = admit_patients(clean_db, settings, 3)
    generation = running_ingest.generation
    publisher = loadgen_client(settings)
    try:
        for round_ in range(10):
            device = str(kits[round_ % 3]["pulse_oximeter"])
            password = demo_device_password(settings.sim_device_secret, device)
            impostor, reason = connect(settings, device, password, client_id="vward-ingest-0")
            assert not reason.is_failure  # let in, but as itself: the broker makes the client id its username
            close(impostor)
            publish_all(publisher, _messages(kits, round_ * 30, 30))
    finally:
        close(publisher)
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 300, "all 300 readings")
    assert running_ingest.generation == generation, "ingest was disconnected"
    assert running_ingest.metrics.is_connected
