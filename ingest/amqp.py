"""The ingest process's RabbitMQ transport: the readings quorum queue over AMQP, acknowledged after commit.

Devices publish MQTT to the cluster; its MQTT plugin routes each reading into one durable quorum queue
(``vward.rabbitmq``). Every ingest process consumes that queue as a competing consumer with its own
channel: no index, no session of its own, nothing to restart under a fixed name. A delivery is
acknowledged only after the transaction holding it has committed, with one multiple-ack up to the last
delivery tag of each committed batch (batches commit in delivery order). If the process dies, the broker
hands its unacknowledged deliveries to the other consumers at once, flagged redelivered; the unique key
on (device, measurement time) makes them harmless.

The prefetch is the batch limit, so the open batch and the one being committed are bounded by it, and a full
batch waits for a busy writer without blocking this loop: pika's heartbeats (``VWARD_AMQP_HEARTBEAT_S``; a
dead host is found only by them) go on. A lost node moves ingest to the next endpoint of
``VWARD_AMQP_ENDPOINTS``; ``VWARD_AMQP_TLS`` encrypts the connections (``vward.mqtt_client.tls_context``). A
missing queue is refused at start: ingest never consumes a queue that the cluster's setup has not declared
(with its replicas) and bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from ingest.metrics import BROKER, IngestMetrics
from ingest.pipeline import Batch, Message, Pipeline, utc_now
from vward import endpoints, mqtt_client
from vward.config import Settings
from vward.rabbitmq import topic_from_routing_key

log = logging.getLogger(__name__)
_WRITER_POLL_S = 0.01
_CHECK_INTERVAL_S = 0.005
_IDLE_POLL_S = 0.2
_MAX_PREFETCH = 65535  # AMQP's prefetch count is 16 bits
_NOT_FOUND, _ACCESS_REFUSED = 404, 403


class QueueUnavailable(RuntimeError):
    """The readings queue is missing or this account may not read it: a setup error, not a transient one."""


def prefetch(settings: Settings) -> int:
    """Unacknowledged deliveries the broker sends this consumer: as many as one batch may hold."""
    return max(1, min(settings.ingest_batch_limit_readings, _MAX_PREFETCH))


def connection_parameters(settings: Settings, endpoint: endpoints.Endpoint, name: str) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(
        host=endpoint.host,
        port=endpoint.port,
        credentials=pika.PlainCredentials(settings.mqtt_ingest_username, settings.mqtt_ingest_password),
        heartbeat=settings.amqp_heartbeat_s,
        connection_attempts=1,
        socket_timeout=5,
        stack_timeout=15,
        blocked_connection_timeout=60,
        client_properties={"connection_name": name},
        ssl_options=pika.SSLOptions(mqtt_client.tls_context(settings), endpoint.host) if settings.amqp_tls else None,
    )


class AmqpIngestWorker(Pipeline):
    hand_over_blocks = False

    def __init__(
        self, settings: Settings, *, metrics: IngestMetrics, index: int = 0, now: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(settings, metrics=metrics, index=index, now=now)
        self.endpoints = settings.amqp_endpoint_list()
        if not self.endpoints:
            raise QueueUnavailable("no AMQP endpoint configured (VWARD_AMQP_ENDPOINTS)")
        self.endpoint = -1  # index of the endpoint in use (or last used)
        self.connection: pika.BlockingConnection | None = None
        self.channel: BlockingChannel | None = None
        self.subscribed = threading.Event()

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Consumes until ``stop`` is set, then commits and acknowledges the open batch and closes."""
        self.start_writer()
        try:
            next_check = 0.0
            while not stop.is_set():
                if self.connection is None:
                    self._connect(stop)
                    continue
                timeout = self.wait_timeout(next_check, busy_poll_s=_WRITER_POLL_S, idle_poll_s=_IDLE_POLL_S)
                try:
                    self.connection.process_data_events(time_limit=timeout)
                    if (now := time.monotonic()) < next_check:
                        continue
                    next_check = now + _CHECK_INTERVAL_S
                    self.tick(now)
                except pika.exceptions.AMQPError as exc:
                    self._lost(exc)
            try:
                self.flush()
                if self.connection is not None:
                    self.connection.close()
            except pika.exceptions.AMQPError as exc:  # unacknowledged: redelivered to another consumer
                log.info("connection lost while closing: %r", exc)
        finally:
            self.writer.close()

    def acknowledge(self, batch: Batch) -> None:
        """One multiple-ack up to the batch's last delivery on this channel (earlier ones are committed too)."""
        tags = [m.tag for m in batch.messages if m.generation == self.generation]
        if tags and self.channel is not None and self.channel.is_open:
            self.channel.basic_ack(delivery_tag=max(tags), multiple=True)

    def _on_message(
        self, _channel: BlockingChannel, method: Basic.Deliver, _props: BasicProperties, body: bytes
    ) -> None:
        # The device id is the routing key's (the broker checked it against the publisher's account).
        assert method.delivery_tag is not None and method.routing_key is not None
        self.receive(
            Message(method.delivery_tag, self.generation, topic_from_routing_key(method.routing_key), body, self.now())
        )

    # -- connecting -------------------------------------------------------------------------------
    def _connect(self, stop: threading.Event) -> None:
        """Tries each endpoint once, from the one after the last used; backs off when none answers."""
        delay = 0.25
        while not stop.is_set():
            for endpoint_index in endpoints.order(self.endpoint, len(self.endpoints)):
                endpoint = self.endpoints[endpoint_index]
                try:
                    self._open(endpoint)
                except (pika.exceptions.AMQPConnectionError, pika.exceptions.ChannelClosed, OSError) as exc:
                    self._close_quietly()
                    refusal = _refusal(exc)
                    if refusal:
                        raise QueueUnavailable(f"{endpoint}: {refusal}") from exc
                    self.outage.warn(
                        BROKER, f"RabbitMQ at {endpoint} unreachable ({exc!r}); trying the next", now=time.monotonic()
                    )
                    continue
                self.endpoint = endpoint_index
                self.generation += 1
                self.metrics.set_up(BROKER, True)
                self.outage.recovered(BROKER, f"consuming {self.settings.amqp_queue} at {endpoint}")
                self.subscribed.set()
                log.info("consuming %s at %s", self.settings.amqp_queue, endpoint)
                return
            stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _open(self, endpoint: endpoints.Endpoint) -> None:
        name = f"vward-ingest-{self.index}"
        self.connection = pika.BlockingConnection(connection_parameters(self.settings, endpoint, name))
        channel = self.connection.channel()
        channel.basic_qos(prefetch_count=prefetch(self.settings))
        channel.queue_declare(self.settings.amqp_queue, passive=True)  # a missing queue: 404, refused
        channel.basic_consume(self.settings.amqp_queue, self._on_message, auto_ack=False)
        self.channel = channel

    def _lost(self, exc: Exception) -> None:
        """The connection or channel died: what is unacknowledged goes to the other consumers (or to us again)."""
        self.metrics.set_up(BROKER, False)
        self.outage.warn(BROKER, f"RabbitMQ connection lost ({exc!r}); reconnecting", now=time.monotonic())
        self._close_quietly()

    def _close_quietly(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is not None and connection.is_open:
            with suppress(pika.exceptions.AMQPError):
                connection.close()


def _refusal(exc: BaseException) -> str | None:
    """Why the broker refuses us for good (no queue, no right to read it, bad credentials), or None."""
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker) and exc.reply_code in (_NOT_FOUND, _ACCESS_REFUSED):
        return f"queue refused: {exc.reply_code} {exc.reply_text}"
    if isinstance(exc, pika.exceptions.ProbableAuthenticationError | pika.exceptions.ProbableAccessDeniedError):
        return f"ingest's account refused: {exc!r}"
    return None
