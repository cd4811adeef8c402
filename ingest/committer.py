"""The database side of ingest: stores a decoded batch in one transaction and pushes its alert events.

Runs in ingest's writer process (``ingest.writer``), which alone uses its PostgreSQL connection and
Redis client. A batch arrives as a ``StoreRequest``: its accepted readings as columns and, per MQTT
message, what is needed to quarantine it. A batch is retried while the database is unreachable (nothing
is acknowledged meanwhile); a batch the database refuses is stored message by message, so one bad
message is quarantined, not the batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import redis

from alerting.outbox import publish_pending
from ingest.decode import Reason, Rejection
from readings.columns import ReadingColumns
from readings.store import CONFLICT, store_columns
from vward import db
from vward.config import Settings

log = logging.getLogger(__name__)
_MAINTENANCE_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class StoreRequest:
    """A batch for the writer: its accepted readings as columns and, per MQTT message, what quarantining it takes.

    Message fields are parallel lists rather than one object per message: at thousands of messages a
    second, pickling per-message objects across the process boundary cost more than decoding them.
    """

    readings: ReadingColumns  # every message's accepted readings, consecutive and in message order
    topics: list[str]
    payloads: list[bytes]
    received_at: list[datetime]
    accepted: list[int]  # how many of ``readings`` each message contributed
    rejections: dict[int, tuple[Rejection, ...]]  # by message index; most messages have none

    def __len__(self) -> int:
        return len(self.topics)

    def message(self, i: int, start: int) -> StoreRequest:
        """Message ``i`` alone, its readings starting at row ``start``."""
        rejected = {0: self.rejections[i]} if i in self.rejections else {}
        return StoreRequest(
            self.readings.slice(start, start + self.accepted[i]),
            [self.topics[i]],
            [self.payloads[i]],
            [self.received_at[i]],
            [self.accepted[i]],
            rejected,
        )

    def refused(self, reason: Rejection) -> StoreRequest:
        """This single message with its readings dropped and the whole message quarantined for ``reason``."""
        return StoreRequest(
            self.readings.slice(0, 0), self.topics, self.payloads, self.received_at, [0], {0: (reason,)}
        )


@dataclass(frozen=True)
class StoreOutcome:
    """What committing a batch did, for the metrics the paho side keeps."""

    stored: int
    duplicates: int
    quarantined: list[str]  # the reason of every quarantine row written
    seconds: float


class BatchCommitter:
    def __init__(self, settings: Settings, *, now: Callable[[], datetime]) -> None:
        self.settings = settings
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

    def store(self, request: StoreRequest) -> StoreOutcome:
        """Commits a batch, retrying while the database is unreachable, then publishes its alert events."""
        started = time.perf_counter()
        delay = 0.5
        while True:
            try:
                self._connect_db()
                if time.monotonic() - self._maintained_at > _MAINTENANCE_INTERVAL_S:
                    self._maintain_storage()
                assert self.conn is not None
                stored, duplicates, quarantined = self._commit(self.conn, request)
                break
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); batch of %d kept, retrying", exc, len(request))
                if self.conn is not None:
                    self.conn.close()
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except psycopg.Error:
                log.warning("batch failed; storing its %d messages one by one", len(request), exc_info=True)
                stored, duplicates, quarantined = self._commit_one_by_one(request)
                break
        self._publish_alert_events()
        return StoreOutcome(stored, duplicates, quarantined, time.perf_counter() - started)

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

    def _commit(self, conn: psycopg.Connection, request: StoreRequest) -> tuple[int, int, list[str]]:
        with conn.transaction():
            result = store_columns(conn, request.readings, settings=self.settings, now=self.now())
            quarantined = _quarantine_rows(request)
            if quarantined:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO quarantine (received_at, topic, device_id, reason, detail, payload)"
                        " VALUES (%s, %s, %s, %s, %s, %s)",
                        quarantined,
                    )
        conflicts = [CONFLICT] * result.conflicts  # quarantined by store_columns itself
        return result.stored, result.duplicates, [str(row[3]) for row in quarantined] + conflicts

    def _commit_one_by_one(self, request: StoreRequest) -> tuple[int, int, list[str]]:
        """Isolates a message the database refuses, so one bad message cannot block the others."""
        assert self.conn is not None
        stored = duplicates = 0
        quarantined: list[str] = []
        start = 0
        for i, accepted in enumerate(request.accepted):
            single = request.message(i, start)
            start += accepted
            try:
                s, d, q = self._commit(self.conn, single)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                refused = single.refused(Rejection(Reason.REFUSED_BY_DATABASE, str(exc)[:500]))
                s, d, q = self._commit(self.conn, refused)
            stored, duplicates, quarantined = stored + s, duplicates + d, quarantined + q
        return stored, duplicates, quarantined

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


def _quarantine_rows(request: StoreRequest) -> list[tuple[object, ...]]:
    return [
        (
            request.received_at[i],
            request.topics[i],
            rejection.device_id,
            rejection.reason.value,
            rejection.detail,
            rejection.raw if rejection.raw is not None else request.payloads[i],
        )
        for i, rejections in request.rejections.items()
        for rejection in rejections
    ]
