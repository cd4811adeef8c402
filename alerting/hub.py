"""The hub worker: runs the alert clocks, sweeps the outbox and sends web push for stream events.

Several hubs can run: they share the stream through the consumer group ``settings.hub_consumer_group``
and claim due alerts with SKIP LOCKED. PostgreSQL is the truth: when Redis is down the hub logs a warning
and keeps running its clocks (escalations are still stored); when Redis comes back (empty: it keeps
nothing on disk) the group is re-created from the stream's start and the outbox sweep republishes every
unpublished event, so nothing is missed. A push is sent at most once per event id (a short-lived Redis
key), and not at all once the alert is resolved.
"""

from __future__ import annotations

import logging
import threading
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
READ_COUNT = 100
_ROLES = {"nurses": "nurse", "coordinators": "coordinator"}

_ALERT = (
    "SELECT a.id AS alert_id, a.status, a.risk, a.trigger, a.news2_total, a.news2_complete,"
    " a.escalation_level,"
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
                self.handle({k.decode(): v.decode() for k, v in raw.items()})
                self.redis.xack(self.settings.alert_stream, self.settings.hub_consumer_group, entry_id)
                handled += 1
        return handled

    def _read(self, block_ms: int | None) -> Any:
        return self.redis.xreadgroup(
            self.settings.hub_consumer_group,
            self.settings.hub_consumer_name,
            {self.settings.alert_stream: ">"},
            count=READ_COUNT,
            block=block_ms,
        )

    def handle(self, fields: Mapping[str, str]) -> int:
        """Sends the push an event asks for (``notify``) to on-duty clinicians; returns pushes delivered."""
        audiences = [a for a in fields.get("notify", "").split(",") if a in _ROLES]
        if not audiences or self.vapid is None:
            return 0
        with self.conn.cursor(row_factory=dict_row) as cur:
            alert = cur.execute(_ALERT, (int(fields["alert_id"]),)).fetchone()
            if alert is None or alert["status"] == "resolved":
                return 0
            subs = cur.execute(_RECIPIENTS, (alert["ward_id"], [_ROLES[a] for a in audiences])).fetchall()
        if not subs or not self.redis.set(
            f"{self.settings.alert_stream}:pushed:{fields['event_id']}", 1, nx=True, ex=PUSHED_KEY_TTL_S
        ):
            return 0
        payload = build_push_payload({**alert, "event": fields["event"]})
        return sum(self._send(sub, payload) for sub in subs)

    def _send(self, sub: Mapping[str, Any], payload: Mapping[str, Any]) -> int:
        assert self.vapid is not None
        try:
            status = self.sender(
                sub, payload, vapid_private_key=self.vapid, vapid_subject=self.settings.vapid_subject
            )
        except (WebPushException, requests.RequestException) as exc:
            log.warning("web push to subscription %s failed: %s", sub["id"], type(exc).__name__)
            return 0
        if status in (404, 410):
            self.conn.execute("DELETE FROM push_subscriptions WHERE id = %s", (sub["id"],))
            log.info("web push subscription %s is gone (%s); deleted", sub["id"], status)
            return 0
        if status >= 300:
            log.warning("web push to subscription %s: HTTP %s", sub["id"], status)
            return 0
        return 1

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
