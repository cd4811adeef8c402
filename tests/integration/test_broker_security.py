"""The broker admits only known identities, and a device can publish only on its own topic.

MQTT 3.1.1 brokers drop an unauthorised publish silently (the publisher even gets its PUBACK), so the
topic test asserts on what the subscriber receives, using a later publish on the device's own topic as a
barrier: the broker handles one client's messages in order, so once the barrier arrives anything the
forbidden publish could have delivered would already be there.
"""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import psycopg

from tests.integration.mqtt_helpers import admit_patients, close, connect, device_client, wait_until
from vward.config import Settings
from vward.contract import READINGS_TOPIC_FILTER, encode_readings, readings_topic
from vward.mqtt_auth import demo_device_password

_READING = [{"measured_at": "2026-11-23T08:15:00Z", "spo2": 95, "hr": 80}]


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


def test_device_cannot_publish_on_another_devices_topic(settings: Settings, clean_db: psycopg.Connection) -> None:
    first, second = admit_patients(clean_db, settings, 2)
    device_a, device_b = str(first["pulse_oximeter"]), str(second["pulse_oximeter"])
    received: list[str] = []
    subscribed = threading.Event()
    sub, reason = connect(settings, settings.mqtt_ingest_username, settings.mqtt_ingest_password)
    assert not reason.is_failure

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        received.append(msg.topic)

    sub.on_message = on_message
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.subscribe(READINGS_TOPIC_FILTER, qos=1)
    wait_until(subscribed.is_set, "SUBACK")
    publisher = device_client(settings, device_a)
    try:
        publisher.publish(readings_topic(device_b), encode_readings(_READING), qos=1).wait_for_publish(30)
        publisher.publish(readings_topic(device_a), encode_readings(_READING), qos=1).wait_for_publish(30)
        wait_until(lambda: readings_topic(device_a) in received, "the barrier on the device's own topic")
    finally:
        close(publisher)
        close(sub)
    assert received == [readings_topic(device_a)]
