"""The database side of ingest: stores a decoded batch in one transaction and pushes its alert events.

Runs on the writer thread (``ingest.writer``), which alone uses its PostgreSQL connection and Redis
client. A batch is retried while the database is unreachable (nothing is acknowledged meanwhile); a batch
the database refuses is stored message by message, so one bad message is quarantined, not the batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
import redis

from alerting.outbox import publish_pending
from ingest.decode import Reason, Rejection
from ingest.metrics import IngestMetrics
from ingest.store import AcceptedReading, store_readings
from vward import db
from vward.config import Settings

log = logging.getLogger(__name__)
_MAINTENANCE_INTERVAL_S = 3600.0


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


class BatchCommitter:
    def __init__(self, settings: Settings, *, metrics: IngestMetrics, now: Callable[[], datetime]) -> None:
        self.settings = settings
        self.metrics = metrics
        self.now = now
        self.conn: psycopg.Connection | None = None
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._redis_warned_at = 0.0
        self._maintained_at = 0.0

    def start(self) -> None:
        """Connects and readies storage, so a process that cannot reach its database fails at start."""
        self._connect_db()
        self._maintain_storage()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.redis.close()

    def store(self, batch: Batch) -> None:
        """Commits a batch, retrying while the database is unreachable, then publishes its alert events."""
        started = time.perf_counter()
        delay = 0.5
        while True:
            try:
                self._connect_db()
                if time.monotonic() - self._maintained_at > _MAINTENANCE_INTERVAL_S:
                    self._maintain_storage()
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
        self.metrics.stored.inc(stored)
        self.metrics.duplicates.inc(duplicates)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_readings.observe(batch.readings)
        self.metrics.committed()
        self._publish_alert_events()

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
