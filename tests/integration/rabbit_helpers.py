"""The RabbitMQ cluster group's helpers: a module-scoped cluster, ingest consumers, and devices that fail over."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

from ingest.amqp import AmqpIngestWorker
from ingest.metrics import IngestMetrics
from tests.integration.mqtt_helpers import admit_patients, wait_until
from vward import endpoints, mqtt_client, services
from vward.config import Settings
from vward.ephemeral import EphemeralCluster, ephemeral_cluster


@contextmanager
def cluster_for_module(settings: Settings) -> Iterator[EphemeralCluster]:
    """A cluster in a directory of its own (so parallel workers and modules never share one)."""
    base = Path(tempfile.mkdtemp(prefix="vward-rabbit-"))
    try:
        with ephemeral_cluster(settings, base / "rabbitmq") as started:
            yield started
    finally:
        shutil.rmtree(base, ignore_errors=True)


def admit_on_cluster(conn: psycopg.Connection, settings: Settings, n: int) -> list[dict[str, str | int]]:
    """Admits ``n`` patients with device kits and gives the cluster their accounts."""
    kits = admit_patients(conn, settings.model_copy(update={"broker": "mosquitto"}), n)
    services.sync_rabbitmq_devices(conn, settings)
    return kits


@contextmanager
def consumer(settings: Settings, index: int = 0) -> Iterator[AmqpIngestWorker]:
    """An AMQP ingest consumer in a thread of this process, stopped (flushed, acknowledged) on exit."""
    stop = threading.Event()
    worker = AmqpIngestWorker(settings, metrics=IngestMetrics(), index=index)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(worker.subscribed.is_set, "the consumer to subscribe")
        yield worker
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive(), "the consumer did not stop"


OPEN: list[FailoverDevice] = []  # devices not yet closed: a failed test's are closed by its teardown


def close_open_devices() -> None:
    for device in list(OPEN):
        device.close()


class FailoverDevice:
    """A QoS 1 publisher that, when its connection drops, reconnects to the next endpoint, where paho
    resends every message not yet PUBACKed (what a device's firmware does; ``device_sim`` does the same).

    PUBACKs are read from each message's ``MQTTMessageInfo`` (the same object across a resend), never
    counted in a callback: paho calls ``on_publish`` holding a lock that ``publish`` takes too."""

    def __init__(self, settings: Settings, username: str, password: str) -> None:
        self.endpoints = settings.mqtt_endpoint_list()
        self.current = 0
        self.client = mqtt_client.new_client(settings, client_id=username, username=username, password=password)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.sent: list[mqtt.MQTTMessageInfo] = []
        self.connected = threading.Event()
        self.disconnects = 0
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        endpoint = self.endpoints[0]
        self.client.connect_async(endpoint.host, endpoint.port, keepalive=5)
        self.client.loop_start()
        OPEN.append(self)
        wait_until(self.connected.is_set, "the device to connect")

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object) -> None:
        if not reason.is_failure:
            self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, _r: mqtt.ReasonCode, _p: object) -> None:
        self.connected.clear()
        self.disconnects += 1
        self.current = endpoints.order(self.current, len(self.endpoints))[0]
        endpoint = self.endpoints[self.current]
        self.client.connect_async(endpoint.host, endpoint.port, keepalive=5)  # paho's loop reconnects there

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Publishes each message once the device is connected. One paho took while disconnected it sends
        after reconnecting, but its info never reports the PUBACK: it is published again (a repeat is
        absorbed by the unique key) so that every counted message has an info that does."""
        for topic, payload in messages:
            while (info := self.client.publish(topic, payload, qos=1)).rc != mqtt.MQTT_ERR_SUCCESS:
                wait_until(self.connected.is_set, "the device to reconnect", 120)
            self.sent.append(info)

    @property
    def acked(self) -> int:
        return sum(info.is_published() for info in self.sent)

    @property
    def unacked(self) -> int:
        return len(self.sent) - self.acked

    def wait_all_acked(self, timeout_s: float = 120.0) -> None:
        wait_until(lambda: self.unacked == 0, "every message PUBACKed", timeout_s)

    def close(self) -> None:
        """Disconnects for good (also called for every device by the tests' teardown, after a failure)."""
        if self in OPEN:
            OPEN.remove(self)
        self.client.on_disconnect = None
        self.client.disconnect()
        self.client.loop_stop()
