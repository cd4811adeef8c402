"""What both broker transports share: decode, hold, batch, hand over to the writer, acknowledge after commit.

A transport (``ingest.worker`` for MQTT, ``ingest.amqp`` for RabbitMQ's quorum queue) owns only its
connection: it wraps each delivery as a ``Message`` (its broker tag and the connection generation it
arrived on), calls ``receive``, calls ``tick`` often, and implements ``acknowledge`` for a committed batch.
Everything after the bytes arrive is this one path.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from ingest.batching import hand_over_now
from ingest.committer import StoreOutcome, StoreRequest
from ingest.decode import Limits, Reason, Rejection, check_device, check_reading, parse_payload
from ingest.devices import DeviceDirectory, DirectoryUnavailable
from ingest.metrics import IngestMetrics
from ingest.outage import OutageLog
from ingest.writer import BatchWriter
from readings.columns import ReadingColumns, ReadingGroup
from vward.config import Settings
from vward.contract import Reading

log = logging.getLogger(__name__)
_DIRECTORY_CONNECT_S = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Message:
    """One received message and what decoding made of it."""

    tag: int  # the broker's id for acknowledging it: MQTT packet id, AMQP delivery tag
    generation: int  # the connection it arrived on: a tag means nothing on another one
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


class Pipeline(ABC):
    """The open batch, held messages and the writer; a transport subclass feeds it and acknowledges."""

    # False: a full batch waits for a busy writer without blocking the transport's loop (its
    # heartbeats go on; the broker's prefetch stops the inflow meanwhile).
    hand_over_blocks = True

    def __init__(
        self, settings: Settings, *, metrics: IngestMetrics, index: int = 0, now: Callable[[], datetime] = utc_now
    ) -> None:
        self.settings = settings
        self.index = index
        self.metrics = metrics
        self.now = now
        self.limits = Limits(
            settings.ingest_max_payload_bytes, settings.ingest_late_window, settings.ingest_future_tolerance
        )
        # On the transport's thread: an unreachable (not refusing) host must not stall it past the keep-alive.
        self.devices = DeviceDirectory(
            lambda: psycopg.connect(settings.database_url, autocommit=True, connect_timeout=_DIRECTORY_CONNECT_S),
            settings.ingest_device_cache_ttl_s,
        )
        self.batch = Batch()
        self.held: list[Message] = []  # decoded once the device directory can answer again
        self.generation = 0
        self.handed_over_at = 0.0  # monotonic time of the last hand-over, for their spacing
        self.outage = OutageLog(log, settings.ingest_outage_log_interval_s)
        self.writer: BatchWriter[Batch]  # started by start_writer()

    @abstractmethod
    def acknowledge(self, batch: Batch) -> None:
        """Tells the broker that every message of ``batch`` (from this generation) is stored."""

    def start_writer(self) -> None:
        self.writer = BatchWriter(self.settings, instance=str(self.index), on_health=self.metrics.set_up)

    def receive(self, message: Message) -> None:
        """Decodes a delivery into the open batch (or holds it while the device directory cannot answer)."""
        self.metrics.received.inc()
        if self.held:  # keep a device's messages in order behind the held ones
            self.held.append(message)
            return
        try:
            self._decode(message)
        except DirectoryUnavailable:
            self.held.append(message)
            return
        self._append(message)

    def tick(self, now: float) -> None:
        """Acknowledges what has committed, retries held messages, and hands the open batch over if due."""
        self._ack(self.writer.committed())
        self._release_held()
        writer_busy = self.writer.busy()
        if writer_busy and not self.hand_over_blocks:
            return
        if hand_over_now(
            self.batch.readings,
            open_messages=len(self.batch.messages),
            writer_busy=writer_busy,
            limit_readings=self.settings.ingest_batch_limit_readings,
            since_last_s=now - self.handed_over_at,
            min_interval_s=self.settings.ingest_batch_min_interval_s,
        ):
            self._hand_over()

    def wait_timeout(self, next_check: float, *, busy_poll_s: float, idle_poll_s: float) -> float:
        """How long the transport may wait for traffic: polling while a commit is in flight (its acks should
        go out soon), until the next hand-over while a batch is open, else ``idle_poll_s``."""
        if self.writer.busy():
            return busy_poll_s
        if self.batch.messages:
            due = max(next_check, self.handed_over_at + self.settings.ingest_batch_min_interval_s)
            return max(0.0, due - time.monotonic())
        return idle_poll_s

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

    def _hand_over(self) -> None:
        """Gives the open batch to the writer (waiting for the previous commit) and starts a new one."""
        batch, self.batch = self.batch, Batch()
        self.handed_over_at = time.monotonic()
        self.writer.submit(batch, batch.store_request())
        self._ack(self.writer.committed())

    def _ack(self, committed: list[tuple[Batch, StoreOutcome]]) -> None:
        for batch, outcome in committed:
            self._count(batch, outcome)
            self.acknowledge(batch)

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

    def flush(self) -> None:
        """Commits the open batch and waits for every commit in flight, then acknowledges them."""
        if self.batch.messages:
            self._hand_over()
        self._ack(self.writer.drain())
