"""The ingest process's MQTT transport: MQTT in, batches scored and stored, broker acknowledged only after commit.

paho's network loop is driven by hand (``client.loop``) on one thread: ``on_message`` only decodes and
appends to the open batch, which is handed to the writer process (``ingest.writer``) as soon as the writer
is idle (group commit, ``ingest.batching``); the writer stores and commits it while the next one fills, so
a batch grows only while a commit is in flight and a lone reading at low load waits at most the spacing
between hand-overs (``VWARD_INGEST_BATCH_MIN_INTERVAL_S``).

A message is acknowledged (manual PUBACK, sent from the paho thread) only after the transaction holding
its readings, its quarantine rows and any alerts it raised has committed; a crash before that means the
broker redelivers it, and the unique key on (device, measurement time) makes the redelivery harmless.

The session is persistent (clean_session false) under a fixed client id per process (``vward-ingest-0``,
``-1``, ...), so a restarted process takes its session and its queued messages back. A planned
shutdown keeps the subscription (the broker queues for us while we are down); ``leave=True`` is for
scaling down for good: unsubscribe, drain, ack, disconnect.

No transient fault ends the process. The broker gone: paho's loop fails and we reconnect with back-off.
PostgreSQL gone: the writer keeps its batch and retries, and a message from a device the directory cannot
answer for is held (unacknowledged) until the database is back. Each dependency's state is a gauge and
makes ``/healthz`` answer 503 while it is down. Decoding, batching and acknowledging after commit are
``ingest.pipeline``'s, shared with the RabbitMQ transport (``ingest.amqp``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

import paho.mqtt.client as mqtt

from ingest.metrics import BROKER, IngestMetrics
from ingest.pipeline import Batch, Message, Pipeline, utc_now
from vward import mqtt_client
from vward.config import Settings
from vward.contract import READINGS_TOPIC_FILTER

log = logging.getLogger(__name__)
_WRITER_POLL_S = 0.01  # how soon the paho thread notices a commit when no messages wake it
_CHECK_INTERVAL_S = 0.005  # how often, at most, it looks at the writer and the open batch
_IDLE_POLL_S = 0.2  # nothing open, nothing in flight: how often held messages are retried


def ingest_username(settings: Settings, index: int) -> str:
    """Ingest process ``index``'s broker account, which is also its client id (the broker binds the two)."""
    return f"{settings.mqtt_ingest_username}-{index}"


def build_client(settings: Settings, index: int) -> mqtt.Client:
    """Ingest's paho client: persistent session, manual acks, its own account (the one place it is built)."""
    username = ingest_username(settings, index)
    return mqtt_client.new_client(
        settings,
        client_id=username,
        username=username,
        password=settings.mqtt_ingest_password,
        persistent=True,
        manual_ack=True,
    )


class IngestWorker(Pipeline):
    def __init__(
        self, settings: Settings, *, metrics: IngestMetrics, index: int = 0, now: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(settings, metrics=metrics, index=index, now=now)
        self.topic = (
            f"$share/{settings.mqtt_shared_group}/{READINGS_TOPIC_FILTER}"
            if settings.mqtt_shared_group
            else READINGS_TOPIC_FILTER
        )
        self.client = build_client(settings, self.index)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()

    # -- paho callbacks: decode and append only ------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode, _props: object
    ) -> None:
        if reason.is_failure:
            self.outage.warn(BROKER, f"broker refused ingest's connection: {reason}", now=time.monotonic())
            return
        self.generation += 1
        self.metrics.set_up(BROKER, True)
        self.outage.recovered(BROKER, "connected to the broker again")
        client.subscribe(self.topic, qos=1)
        self.subscribed.set()
        log.info("connected to broker, subscribed to %s", self.topic)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode, _props: object
    ) -> None:
        self.metrics.set_up(BROKER, False)
        if reason.is_failure:
            self.outage.warn(BROKER, f"disconnected from the broker: {reason}", now=time.monotonic())
        else:
            log.info("disconnected from broker: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.receive(Message(msg.mid, self.generation, msg.topic, bytes(msg.payload), self.now()))

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, leave: bool = False) -> None:
        """Runs until ``stop`` is set, then flushes the open batch and disconnects."""
        self.start_writer()
        try:
            self._connect(stop)
            next_check = 0.0
            while not stop.is_set():
                timeout = self.wait_timeout(next_check, busy_poll_s=_WRITER_POLL_S, idle_poll_s=_IDLE_POLL_S)
                if self.client.loop(timeout=timeout) != mqtt.MQTT_ERR_SUCCESS:
                    self._reconnect(stop)
                # paho's loop handles one packet per call; checking the writer after every one cost ~5%.
                if (now := time.monotonic()) < next_check:
                    continue
                next_check = now + _CHECK_INTERVAL_S
                self.tick(now)
            if leave:
                self.client.unsubscribe(self.topic)
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    self.client.loop(timeout=0.05)
            self.flush()
            self.client.loop(timeout=0.1)
            self.client.disconnect()
        finally:
            self.writer.close()

    def acknowledge(self, batch: Batch) -> None:
        for message in batch.messages:
            # Acks from an earlier connection would name packet ids the broker has already reissued.
            if message.generation == self.generation:
                self.client.ack(message.tag, 1)

    def _connect(self, stop: threading.Event) -> None:
        """Connects, retrying with back-off while the broker is unreachable (a broker outage is transient)."""
        settings = self.settings
        try:
            mqtt_client.connect(self.client, settings)
        except OSError as exc:
            self.outage.warn(BROKER, f"broker unreachable ({exc}); retrying", now=time.monotonic())
            self._reconnect(stop)

    def _reconnect(self, stop: threading.Event) -> None:
        self.metrics.set_up(BROKER, False)
        delay = 0.25
        while not stop.is_set():
            try:
                if self.client.reconnect() == mqtt.MQTT_ERR_SUCCESS:
                    return
            except OSError as exc:
                self.outage.warn(BROKER, f"broker unreachable ({exc}); retrying", now=time.monotonic())
            stop.wait(delay)
            delay = min(delay * 2, 5.0)
