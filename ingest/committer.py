"""The database side of ingest: stores a decoded batch in one transaction and pushes its alert events.

Runs in ingest's writer process (``ingest.writer``), which alone uses its PostgreSQL connection and
Redis client. A batch arrives as a ``StoreRequest``: its accepted readings as columns and, per MQTT
message, what is needed to quarantine it. A batch is retried with back-off while the database is
unreachable (nothing is acknowledged meanwhile, and the process never exits for it); a batch the database
refuses is stored message by message, so one bad message is quarantined, not the batch. Alert events are
pushed to Redis after the commit; while Redis is down they wait in the outbox, and every heartbeat tries
again. Each dependency's state goes to ``report`` when it changes, for ``/healthz`` and the metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
import redis

from alerting.outbox import publish_pending
from ingest.decode import Reason, Rejection
from ingest.outage import OutageLog
from readings.columns import ReadingColumns
from readings.store import CONFLICT, store_columns
from vward import db, heartbeat
from vward.config import Settings

log = logging.getLogger(__name__)
_MAINTENANCE_INTERVAL_S = 3600.0
_RETRY_MAX_S = 10.0
DATABASE, REDIS = "database", "redis"


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
    def __init__(
        self,
        settings: Settings,
        *,
        now: Callable[[], datetime],
        instance: str = "0",
        report: Callable[[str, bool], None] = lambda _dependency, _up: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.now = now
        self.instance = instance
        self.report = report
        self.sleep = sleep
        self.conn: psycopg.Connection | None = None
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.up: dict[str, bool] = {DATABASE: True, REDIS: True}
        self.outage = OutageLog(log, settings.ingest_outage_log_interval_s)
        self._maintained_at = -float("inf")
        self._beat_at = -float("inf")

    def start(self) -> None:
        """Connects and readies storage if it can; an unreachable database is retried by ``store`` and ``tick``."""
        self._try(self._ready)

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
                self._ready()
                assert self.conn is not None
                stored, duplicates, quarantined = self._commit(self.conn, request)
                break
            except psycopg.OperationalError as exc:
                self._database_down(exc, f"batch of {len(request)} messages kept, retrying")
                self.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            except psycopg.Error:
                log.warning("batch failed; storing its %d messages one by one", len(request), exc_info=True)
                stored, duplicates, quarantined = self._commit_one_by_one(request)
                break
        self._set(DATABASE, True)
        self._try(self._after_commit)
        return StoreOutcome(stored, duplicates, quarantined, time.perf_counter() - started)

    def tick(self) -> None:
        """Called when idle: beats the heartbeat and retries the outbox, so an outage ends without traffic."""
        self._try(self._after_commit)

    def _try(self, action: Callable[[], None]) -> None:
        try:
            action()
        except psycopg.OperationalError as exc:
            self._database_down(exc, "will retry")

    def _ready(self) -> None:
        if self.conn is None or self.conn.closed:
            self.conn = db.connect(self.settings)
        if time.monotonic() - self._maintained_at > _MAINTENANCE_INTERVAL_S:
            self._maintain_storage()
        self._set(DATABASE, True)

    def _after_commit(self) -> None:
        self._ready()
        self._publish_alert_events()
        if time.monotonic() - self._beat_at >= self.settings.ingest_heartbeat_interval_s:
            self._beat()

    def _database_down(self, exc: psycopg.OperationalError, what: str) -> None:
        if self.conn is not None:
            self.conn.close()
        self._set(DATABASE, False)
        self.outage.warn(DATABASE, f"database unavailable ({str(exc).strip()}); {what}", now=time.monotonic())

    def _set(self, dependency: str, up: bool) -> None:
        if self.up[dependency] != up:
            self.up[dependency] = up
            self.report(dependency, up)
            if up:
                self.outage.recovered(dependency, f"{dependency} reachable again")

    def _beat(self) -> None:
        assert self.conn is not None
        with self.conn.transaction():
            heartbeat.beat(self.conn, component="ingest", instance=self.instance, now=self.now(), detail=self.up)
        self._beat_at = time.monotonic()

    def _maintain_storage(self) -> None:
        """Keeps daily partitions ready for the whole late window (or checks the TimescaleDB policies)."""
        assert self.conn is not None
        with self.conn.transaction():
            db.maintain_readings(self.conn, self.settings, now=self.now())
        self._maintained_at = time.monotonic()

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
        """Pushes committed alert events to Redis; while Redis is down they wait in the outbox (the hub sweeps too)."""
        assert self.conn is not None
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            self._set(REDIS, False)
            self.outage.warn(REDIS, f"Redis unavailable ({exc}); alert events stay in the outbox", now=time.monotonic())
            return
        self._set(REDIS, True)
        publish_pending(self.conn, self.redis, settings=self.settings)


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
