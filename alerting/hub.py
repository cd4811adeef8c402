"""The hub worker: runs the alert clocks, sweeps the outbox and sends web push for stream events.

Several hubs can run: they share the stream through the consumer group ``settings.hub_consumer_group``
and claim due alerts with SKIP LOCKED. PostgreSQL is the truth: when Redis is down the hub logs a warning
and keeps running its clocks (escalations are still stored); when Redis comes back (empty: it keeps
nothing on disk) the group is re-created from the stream's start and the outbox sweep republishes every
unpublished event, so nothing is missed.

Pushes are at least once, per subscription: a stream entry is acknowledged only when every push it asks
for was delivered or refused for good (the subscription is gone, or the service rejects the request).
A network failure, a 429 or a 5xx leaves it pending, and every ``hub_push_retry_s`` any hub claims the
entries pending that long (``XAUTOCLAIM``, which also recovers a dead hub's entries) and tries the
subscriptions still owed, up to ``PUSH_MAX_DELIVERIES`` times. A short-lived Redis key per event and
subscription, set after delivery, stops a retry from pushing twice. Nothing is pushed once the alert is
resolved. Reminders are the clinical safety net beyond that: an unacknowledged alert is announced again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg
import redis
import requests
from psycopg.rows import dict_row
from py_vapid import Vapid
from pywebpush import WebPushException

from alerting.clocks import raise_missed_readings, run_clocks
from alerting.outbox import publish_pending
from alerting.push import build_push_payload, send_push
from vward.config import Settings

log = logging.getLogger(__name__)

PUSHED_KEY_TTL_S = 24 * 3600
PUSH_MAX_DELIVERIES = 5
READ_COUNT = 100
_ROLES = {"nurses": "nurse", "coordinators": "coordinator"}

_ALERT = (
    "SELECT a.id AS alert_id, a.status, a.risk, a.trigger, a.news2_total, a.news2_complete,"
    " a.escalation_level, a.npews_total, a.npews_complete, a.awaiting_grade,"
    " w.id AS ward_id, w.name AS ward_name FROM alerts a JOIN admissions ad ON ad.id = a.admission_id"
    " JOIN wards w ON w.id = ad.ward_id WHERE a.id = %s"
)
_RECIPIENTS = (
    "SELECT DISTINCT ps.id, ps.endpoint, ps.p256dh, ps.auth FROM push_subscriptions ps"
    " JOIN users u ON u.id = ps.user_id JOIN user_wards uw ON uw.user_id = u.id"
    " WHERE uw.ward_id = %s AND u.active AND u.on_duty AND u.role = ANY(%s) ORDER BY ps.id"
)

Sender = Callable[..., int]


class Hub:
    """One hub worker; ``tick`` and ``consume`` are separate so tests can drive each with their own clock."""

    def __init__(
        self,
        settings: Settings,
        *,
        conn: psycopg.Connection,
        redis_client: redis.Redis,
        vapid: Vapid | None,
        sender: Sender = send_push,
    ) -> None:
        self.settings = settings
        self.conn = conn  # autocommit; every unit of work opens its own transaction
        self.redis = redis_client
        self.vapid = vapid
        self.sender = sender
        self._group_ready = False
        self._next_retry = 0.0  # time.monotonic() of the next claim of stale pending entries

    def tick(self, now: datetime) -> dict[str, int]:
        """Clocks and missed readings (PostgreSQL only), then the outbox sweep (skipped if Redis is down)."""
        escalated = run_clocks(self.conn, settings=self.settings, now=now)
        missed = raise_missed_readings(self.conn, settings=self.settings, now=now)
        published = publish_pending(self.conn, self.redis, settings=self.settings)
        return {"changed": escalated, "missed_readings": missed, "published": published}

    def ensure_group(self) -> None:
        """Creates the consumer group from the stream's start (so a backlog republished after a Redis restart
        is read), unless it exists."""
        try:
            self.redis.xgroup_create(
                self.settings.alert_stream, self.settings.hub_consumer_group, id="0", mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def consume(self, block_ms: int | None) -> int:
        """Reads new stream entries for this consumer, pushes, acknowledges; returns how many were handled."""
        if not self._group_ready:
            self.ensure_group()
        try:
            batches = self._read(block_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()  # Redis restarted empty: the group starts again from the stream's start
            batches = self._read(block_ms)
        handled = 0
        for _stream, entries in batches or []:
            for entry_id, raw in entries:
                self._settle(entry_id, raw)
                handled += 1
        return handled + self._retry_pending()

    def _settle(self, entry_id: bytes, raw: Mapping[bytes, bytes]) -> None:
        """Push what the entry asks for; acknowledge it unless a push failed in a way worth retrying."""
        if self.handle({k.decode(): v.decode() for k, v in raw.items()}):
            return
        self.redis.xack(self.settings.alert_stream, self.settings.hub_consumer_group, entry_id)

    def _retry_pending(self) -> int:
        """Claims entries pending for ``hub_push_retry_s`` (this hub's failures or a dead hub's) and settles
        them again; one past ``PUSH_MAX_DELIVERIES`` is acknowledged with a warning. Returns how many."""
        if time.monotonic() < self._next_retry:
            return 0
        self._next_retry = time.monotonic() + self.settings.hub_push_retry_s
        stream, group = self.settings.alert_stream, self.settings.hub_consumer_group
        entries = self.redis.xautoclaim(
            stream, group, self.settings.hub_consumer_name,
            min_idle_time=int(self.settings.hub_push_retry_s * 1000), start_id="0-0", count=READ_COUNT,
        )[1]  # fmt: skip
        for entry_id, raw in entries:
            [pending] = self.redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
            if int(pending["times_delivered"]) > PUSH_MAX_DELIVERIES:
                log.warning("giving up pushing stream entry %s after %s deliveries", entry_id.decode(),
                            PUSH_MAX_DELIVERIES)  # fmt: skip
                self.redis.xack(stream, group, entry_id)
            else:
                self._settle(entry_id, raw)
        return len(entries)

    def _read(self, block_ms: int | None) -> Any:
        return self.redis.xreadgroup(
            self.settings.hub_consumer_group,
            self.settings.hub_consumer_name,
            {self.settings.alert_stream: ">"},
            count=READ_COUNT,
            block=block_ms,
        )

    def handle(self, fields: Mapping[str, str]) -> bool:
        """Sends the push an event asks for (``notify``) to the on-duty clinicians not yet reached; returns
        True if a push failed in a way worth retrying."""
        audiences = [a for a in fields.get("notify", "").split(",") if a in _ROLES]
        if not audiences or self.vapid is None:
            return False
        with self.conn.cursor(row_factory=dict_row) as cur:
            alert = cur.execute(_ALERT, (int(fields["alert_id"]),)).fetchone()
            if alert is None or alert["status"] == "resolved":
                return False
            subs = cur.execute(_RECIPIENTS, (alert["ward_id"], [_ROLES[a] for a in audiences])).fetchall()
        payload = build_push_payload({**alert, "event": fields["event"]})
        retry = False
        for sub in subs:
            pushed = f"{self.settings.alert_stream}:pushed:{fields['event_id']}:{sub['id']}"
            if self.redis.exists(pushed):
                continue
            result = self._send(sub, payload)
            if result == "delivered":
                self.redis.set(pushed, 1, ex=PUSHED_KEY_TTL_S)
            retry |= result == "retry"
        return retry

    def _send(self, sub: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
        """'delivered', 'retry' (network failure, 429, 5xx) or 'refused' (gone, or another 4xx)."""
        assert self.vapid is not None
        try:
            status = self.sender(sub, payload, vapid_private_key=self.vapid, vapid_subject=self.settings.vapid_subject)
        except (WebPushException, requests.RequestException) as exc:
            log.warning("web push to subscription %s failed: %s; will retry", sub["id"], type(exc).__name__)
            return "retry"
        if status in (404, 410):
            self.conn.execute("DELETE FROM push_subscriptions WHERE id = %s", (sub["id"],))
            log.info("web push subscription %s is gone (%s); deleted", sub["id"], status)
            return "refused"
        if status == 429 or status >= 500:
            log.warning("web push to subscription %s: HTTP %s; will retry", sub["id"], status)
            return "retry"
        if status >= 300:
            log.warning("web push to subscription %s refused: HTTP %s", sub["id"], status)
            return "refused"
        return "delivered"

    def run(self, stop: threading.Event, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """Ticks every ``hub_tick_s`` and consumes in between until ``stop`` is set (SIGTERM)."""
        block_ms = max(1, int(min(self.settings.hub_tick_s, 1.0) * 1000))
        next_tick = 0.0
        while not stop.is_set():
            try:
                clock = now().timestamp()
                if clock >= next_tick:
                    next_tick = clock + self.settings.hub_tick_s
                    self.tick(now())
                self.consume(block_ms)
            except redis.RedisError as exc:
                self._group_ready = False
                log.warning("hub: Redis unavailable (%s); clocks keep running", type(exc).__name__)
                stop.wait(min(self.settings.hub_tick_s, 1.0))
            except psycopg.OperationalError as exc:
                log.warning("hub: PostgreSQL unavailable (%s); retrying", str(exc).strip()[:200])
                stop.wait(self.settings.hub_tick_s)
                self._reconnect()

    def _reconnect(self) -> None:
        if self.conn.closed or self.conn.broken:
            try:
                self.conn = psycopg.connect(self.settings.database_url, autocommit=True)
            except psycopg.OperationalError:
                return  # still down: the next failure retries
