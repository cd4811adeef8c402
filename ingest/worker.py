"""The ingest process: MQTT in, batches scored and stored, broker acknowledged only after commit.

One thread does everything: paho's network loop is driven by hand (``client.loop``), ``on_message`` only
decodes and appends to the open batch, and the batch is flushed between loop calls when it is full or
old enough. A message is acknowledged (manual PUBACK) only after the transaction holding its readings,
its quarantine rows and any alerts it raised has committed; a crash before that means the broker
redelivers it, and the unique key on (device, measurement time) makes the redelivery harmless.

The session is persistent (clean_session false) under a fixed client id per process (``vward-ingest-0``,
``-1``, ...), so a restarted process takes its session and its queued messages back. A planned
shutdown keeps the subscription (the broker queues for us while we are down); ``leave=True`` is for
scaling down for good: unsubscribe, drain, ack, disconnect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
import redis

from alerting.outbox import publish_pending
from ingest.decode import Limits, Reason, Rejection, check_device, check_reading, parse_payload
from ingest.devices import DeviceDirectory
from ingest.metrics import IngestMetrics
from ingest.store import AcceptedReading, store_readings
from vward import db
from vward.config import Settings
from vward.contract import READINGS_TOPIC_FILTER

log = logging.getLogger(__name__)
_MAINTENANCE_INTERVAL_S = 3600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Message:
    """One received MQTT message and what decoding made of it."""

    mid: int
    generation: int
    topic: str
    payload: bytes
    received_at: datetime
    accepted: list[AcceptedReading] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class Batch:
    messages: list[Message] = field(default_factory=list)
    readings: int = 0
    opened_at: float = 0.0


class IngestWorker:
    def __init__(self, settings: Settings, *, metrics: IngestMetrics, client_id: str,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.metrics = metrics
        self.now = now
        self.limits = Limits(settings.ingest_max_payload_bytes, settings.ingest_late_window,
                             settings.ingest_future_tolerance)
        self.devices = DeviceDirectory(lambda: db.connect(settings, autocommit=True),
                                       settings.ingest_device_cache_ttl_s)
        self.batch = Batch()
        self.generation = 0
        self.conn: psycopg.Connection | None = None
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._redis_warned_at = 0.0
        self.topic = (f"$share/{settings.mqtt_shared_group}/{READINGS_TOPIC_FILTER}"
                      if settings.mqtt_shared_group else READINGS_TOPIC_FILTER)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311, clean_session=False, manual_ack=True)
        self.client.username_pw_set(settings.mqtt_ingest_username, settings.mqtt_ingest_password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()
        self._maintained_at = 0.0

    # -- paho callbacks: decode and append only ------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: object,
                    reason: mqtt.ReasonCode, _props: object) -> None:
        if reason.is_failure:
            log.error("broker refused ingest connection: %s", reason)
            return
        self.generation += 1
        self.metrics.set_connected(True)
        client.subscribe(self.topic, qos=1)
        self.subscribed.set()
        log.info("connected to broker, subscribed to %s", self.topic)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: object,
                       reason: mqtt.ReasonCode, _props: object) -> None:
        self.metrics.set_connected(False)
        (log.warning if reason.is_failure else log.info)("disconnected from broker: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.metrics.received.inc()
        message = Message(msg.mid, self.generation, msg.topic, msg.payload, self.now())
        self._decode(message)
        if not self.batch.messages:
            self.batch.opened_at = time.monotonic()
        self.batch.messages.append(message)
        self.batch.readings += len(message.accepted) + len(message.rejected)

    def _decode(self, message: Message) -> None:
        received_at = message.received_at
        parsed = parse_payload(message.topic, message.payload, max_payload_bytes=self.limits.max_payload_bytes)
        if isinstance(parsed, Rejection):
            message.rejected.append(parsed)
            return
        device_id, readings = parsed
        assignment = self.devices.lookup(device_id)
        refused = check_device(device_id, assignment)
        if refused or assignment is None or assignment.admission_id is None:
            message.rejected.append(refused or Rejection(Reason.UNKNOWN_DEVICE, device_id, device_id))
            return
        for reading in readings:
            reason = check_reading(reading, assignment, now=received_at, limits=self.limits)
            if reason is not None:
                message.rejected.append(Rejection(
                    reason, f"measured_at {reading.measured_at.isoformat()}", device_id,
                    reading.model_dump_json(exclude_none=True).encode() if len(readings) > 1 else None))
                continue
            message.accepted.append(AcceptedReading(
                device_id, assignment.admission_id, reading.measured_at, received_at, reading.rr, reading.spo2,
                reading.sbp, reading.dbp, reading.hr, reading.temp, reading.on_oxygen, reading.consciousness))

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, leave: bool = False) -> None:
        """Runs until ``stop`` is set, then flushes the open batch and disconnects."""
        self._connect_db()
        self._maintain_storage()
        self.client.connect(self.settings.mqtt_host, self.settings.mqtt_port, self.settings.mqtt_keepalive_s)
        max_wait = self.settings.ingest_batch_max_wait_s
        while not stop.is_set():
            timeout = max_wait if not self.batch.messages else max(
                0.0, min(max_wait, self.batch.opened_at + max_wait - time.monotonic()))
            if self.client.loop(timeout=timeout) != mqtt.MQTT_ERR_SUCCESS:
                self._reconnect(stop)
            if self._batch_due():
                self.flush()
            if time.monotonic() - self._maintained_at > _MAINTENANCE_INTERVAL_S:
                self._maintain_storage()
        if leave:
            self.client.unsubscribe(self.topic)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                self.client.loop(timeout=0.05)
        self.flush()
        self.client.loop(timeout=0.1)
        self.client.disconnect()
        if self.conn is not None:
            self.conn.close()
        self.redis.close()

    def _batch_due(self) -> bool:
        return bool(self.batch.messages) and (
            self.batch.readings >= self.settings.ingest_batch_max_readings
            or time.monotonic() - self.batch.opened_at >= self.settings.ingest_batch_max_wait_s)

    def _reconnect(self, stop: threading.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                if self.client.reconnect() == mqtt.MQTT_ERR_SUCCESS:
                    return
            except OSError as exc:
                log.warning("broker unreachable (%s); retrying in %.1f s", exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, 10.0)

    def _maintain_storage(self) -> None:
        """Keeps daily partitions ready for the whole late window (or checks the TimescaleDB policies)."""
        assert self.conn is not None
        first_day = (self.now() - self.settings.ingest_late_window).date() - timedelta(days=1)
        with self.conn.transaction():
            db.maintain_readings(self.conn, self.settings, first_day=first_day)
        self._maintained_at = time.monotonic()

    def _connect_db(self) -> None:
        if self.conn is None or self.conn.closed:
            self.conn = db.connect(self.settings)

    # -- flushing ---------------------------------------------------------------------------------
    def flush(self) -> None:
        """Commits the open batch (retrying while the database is unreachable), then acknowledges it."""
        batch, self.batch = self.batch, Batch()
        if not batch.messages:
            return
        started = time.perf_counter()
        delay = 0.5
        while True:
            try:
                self._connect_db()
                assert self.conn is not None
                stored, duplicates = self._commit(self.conn, batch.messages)
                break
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); batch of %d kept, retrying", exc, len(batch.messages))
                if self.conn is not None:
                    self.conn.close()
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except psycopg.Error:
                log.warning("batch failed; storing its %d messages one by one", len(batch.messages), exc_info=True)
                stored, duplicates = self._commit_one_by_one(batch.messages)
                break
        for message in batch.messages:
            # Acks from an earlier connection would name packet ids the broker has already reissued.
            if message.generation == self.generation:
                self.client.ack(message.mid, 1)
        self.metrics.stored.inc(stored)
        self.metrics.duplicates.inc(duplicates)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_readings.observe(batch.readings)
        self.metrics.committed()
        self._publish_alert_events()

    def _commit(self, conn: psycopg.Connection, messages: list[Message]) -> tuple[int, int]:
        with conn.transaction():
            readings = [reading for message in messages for reading in message.accepted]
            result = store_readings(conn, readings, settings=self.settings, now=self.now())
            quarantined = _quarantine_rows(messages)
            if quarantined:
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO quarantine (received_at, topic, device_id, reason, detail, payload)"
                                    " VALUES (%s, %s, %s, %s, %s, %s)", quarantined)
        for row in quarantined:
            self.metrics.quarantined.labels(reason=row[3]).inc()
        return result.stored, result.duplicates

    def _commit_one_by_one(self, messages: list[Message]) -> tuple[int, int]:
        """Isolates a message the database refuses, so one bad message cannot block the others."""
        assert self.conn is not None
        stored = duplicates = 0
        for message in messages:
            try:
                s, d = self._commit(self.conn, [message])
                stored, duplicates = stored + s, duplicates + d
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                message.accepted.clear()
                message.rejected = [Rejection(Reason.REFUSED_BY_DATABASE, str(exc)[:500])]
                self._commit(self.conn, [message])
        return stored, duplicates

    def _publish_alert_events(self) -> None:
        """Best-effort push of committed alert events to Redis; the hub sweeps whatever this misses."""
        assert self.conn is not None
        try:
            with self.conn.transaction():
                publish_pending(self.conn, self.redis, settings=self.settings)
        except redis.RedisError as exc:
            if time.monotonic() - self._redis_warned_at > 60:
                log.warning("Redis unavailable (%s); alert events stay in the outbox for the hub", exc)
                self._redis_warned_at = time.monotonic()


def _quarantine_rows(messages: list[Message]) -> list[tuple[object, ...]]:
    rows = []
    for message in messages:
        for rejection in message.rejected:
            rows.append((message.received_at, message.topic, rejection.device_id, rejection.reason.value,
                         rejection.detail,
                         rejection.raw if rejection.raw is not None else message.payload))
    return rows
