"""The ingest process: MQTT in, batches scored and stored, broker acknowledged only after commit.

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
makes ``/healthz`` answer 503 while it is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import psycopg

from ingest.batching import hand_over_now
from ingest.committer import StoreOutcome, StoreRequest
from ingest.decode import Limits, Reason, Rejection, check_device, check_reading, parse_payload
from ingest.devices import DeviceDirectory, DirectoryUnavailable
from ingest.metrics import BROKER, IngestMetrics
from ingest.outage import OutageLog
from ingest.writer import BatchWriter
from readings.columns import ReadingColumns, ReadingGroup
from vward import mqtt_client
from vward.config import Settings
from vward.contract import READINGS_TOPIC_FILTER, Reading

log = logging.getLogger(__name__)
_WRITER_POLL_S = 0.01  # how soon the paho thread notices a commit when no messages wake it
_CHECK_INTERVAL_S = 0.005  # how often, at most, it looks at the writer and the open batch
_IDLE_POLL_S = 0.2  # nothing open, nothing in flight: how often held messages are retried
_DIRECTORY_CONNECT_S = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Message:
    """One received MQTT message and what decoding made of it."""

    mid: int
    generation: int
    topic: str
    payload: bytes
    received_at: datetime
    device_id: str = ""
    admission_id: int = 0
    accepted: list[Reading] = field(default_factory=list)  # from device_id, on admission_id
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class Batch:
    messages: list[Message] = field(default_factory=list)
    readings: int = 0

    def store_request(self) -> StoreRequest:
        """What the writer process needs: the readings as columns, the messages for quarantine."""
        messages = self.messages
        return StoreRequest(
            ReadingColumns.from_groups(
                ReadingGroup(m.device_id, m.admission_id, m.received_at, m.accepted) for m in messages
            ),
            topics=[m.topic for m in messages],
            payloads=[m.payload for m in messages],
            received_at=[m.received_at for m in messages],
            accepted=[len(m.accepted) for m in messages],
            rejections={i: tuple(m.rejected) for i, m in enumerate(messages) if m.rejected},
        )


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


class IngestWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        metrics: IngestMetrics,
        index: int = 0,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.index = index
        self.metrics = metrics
        self.now = now
        self.limits = Limits(
            settings.ingest_max_payload_bytes, settings.ingest_late_window, settings.ingest_future_tolerance
        )
        # On paho's thread: an unreachable (not refusing) host must not stall the loop past the keep-alive.
        self.devices = DeviceDirectory(
            lambda: psycopg.connect(settings.database_url, autocommit=True, connect_timeout=_DIRECTORY_CONNECT_S),
            settings.ingest_device_cache_ttl_s,
        )
        self.batch = Batch()
        self.held: list[Message] = []  # decoded once the device directory can answer again
        self.generation = 0
        self.handed_over_at = 0.0  # monotonic time of the last hand-over, for their spacing
        self.outage = OutageLog(log, settings.ingest_outage_log_interval_s)
        self.topic = (
            f"$share/{settings.mqtt_shared_group}/{READINGS_TOPIC_FILTER}"
            if settings.mqtt_shared_group
            else READINGS_TOPIC_FILTER
        )
        self.client = build_client(settings, index)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()
        self.writer: BatchWriter[Batch]  # started by run()

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
        self.metrics.received.inc()
        message = Message(msg.mid, self.generation, msg.topic, bytes(msg.payload), self.now())
        if self.held:  # keep a device's messages in order behind the held ones
            self.held.append(message)
            return
        try:
            self._decode(message)
        except DirectoryUnavailable:
            self.held.append(message)
            return
        self._append(message)

    def _append(self, message: Message) -> None:
        self.batch.messages.append(message)
        self.batch.readings += len(message.accepted) + len(message.rejected)

    def _decode(self, message: Message) -> None:
        received_at = message.received_at
        parsed = parse_payload(message.topic, message.payload, max_payload_bytes=self.limits.max_payload_bytes)
        if isinstance(parsed, Rejection):
            message.rejected.append(parsed)
            return
        device_id, readings, refused_readings = parsed
        assignment = self.devices.lookup(device_id)
        refused = check_device(device_id, assignment)
        if refused or assignment is None or assignment.admission_id is None:
            message.rejected.append(refused or Rejection(Reason.UNKNOWN_DEVICE, device_id, device_id))
            return
        message.device_id, message.admission_id = device_id, assignment.admission_id
        message.rejected.extend(refused_readings)  # each bad reading of a batch alone; the others go on
        # Bounds check_reading would accept, worked out once per message; it names the reason otherwise.
        earliest, latest = received_at - self.limits.late_window, received_at + self.limits.future_tolerance
        if assignment.admitted_at is not None and assignment.admitted_at > earliest:
            earliest = assignment.admitted_at
        for reading in readings:
            at = reading.measured_at
            reason = (
                None
                if earliest <= at <= latest
                else check_reading(reading, assignment, now=received_at, limits=self.limits)
            )
            if reason is not None:
                message.rejected.append(
                    Rejection(
                        reason,
                        f"measured_at {at.isoformat()}",
                        device_id,
                        reading.model_dump_json(exclude_none=True).encode()
                        if len(readings) + len(refused_readings) > 1
                        else None,
                    )
                )
                continue
            message.accepted.append(reading)

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, leave: bool = False) -> None:
        """Runs until ``stop`` is set, then flushes the open batch and disconnects."""
        self.writer = BatchWriter(self.settings, instance=str(self.index), on_health=self.metrics.set_up)
        try:
            self._connect(stop)
            next_check = 0.0
            while not stop.is_set():
                if self.client.loop(timeout=self._loop_timeout(next_check)) != mqtt.MQTT_ERR_SUCCESS:
                    self._reconnect(stop)
                # paho's loop handles one packet per call; checking the writer after every one cost ~5%.
                if (now := time.monotonic()) < next_check:
                    continue
                next_check = now + _CHECK_INTERVAL_S
                self._ack(self.writer.committed())
                self._release_held()
                if hand_over_now(
                    self.batch.readings,
                    open_messages=len(self.batch.messages),
                    writer_busy=self.writer.busy(),
                    limit_readings=self.settings.ingest_batch_limit_readings,
                    since_last_s=now - self.handed_over_at,
                    min_interval_s=self.settings.ingest_batch_min_interval_s,
                ):
                    self._hand_over()
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

    def _loop_timeout(self, next_check: float) -> float:
        """Polling while a commit is in flight (its acks should go out soon); soon for an idle writer."""
        if self.writer.busy():
            return _WRITER_POLL_S
        if self.batch.messages:
            due = max(next_check, self.handed_over_at + self.settings.ingest_batch_min_interval_s)
            return max(0.0, due - time.monotonic())
        return _IDLE_POLL_S

    def _hand_over(self) -> None:
        """Gives the open batch to the writer (waiting for the previous commit) and starts a new one."""
        batch, self.batch = self.batch, Batch()
        self.handed_over_at = time.monotonic()
        self.writer.submit(batch, batch.store_request())
        self._ack(self.writer.committed())

    def _ack(self, committed: list[tuple[Batch, StoreOutcome]]) -> None:
        for batch, outcome in committed:
            self._count(batch, outcome)
            for message in batch.messages:
                # Acks from an earlier connection would name packet ids the broker has already reissued.
                if message.generation == self.generation:
                    self.client.ack(message.mid, 1)

    def _count(self, batch: Batch, outcome: StoreOutcome) -> None:
        self.metrics.stored.inc(outcome.stored)
        self.metrics.duplicates.inc(outcome.duplicates)
        for reason in outcome.quarantined:
            self.metrics.quarantined.labels(reason=reason).inc()
        self.metrics.batch_seconds.observe(outcome.seconds)
        self.metrics.batch_readings.observe(batch.readings)
        self.metrics.committed()

    def _release_held(self) -> None:
        """Decodes held messages once the directory answers; those from an older connection are redelivered."""
        held, self.held = [m for m in self.held if m.generation == self.generation], []
        self.metrics.held.set(len(held))
        for i, message in enumerate(held):
            try:
                self._decode(message)
            except DirectoryUnavailable:
                self.held = held[i:]
                return
            self._append(message)

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

    # -- flushing ---------------------------------------------------------------------------------
    def flush(self) -> None:
        """Commits the open batch and waits for every commit in flight, then acknowledges them."""
        if self.batch.messages:
            self._hand_over()
        self._ack(self.writer.drain())
