"""The hub worker: runs the alert clocks, sweeps the outbox and sends web push for stream events.

Several hubs can run: they share the stream through the consumer group ``settings.hub_consumer_group``
and claim due alerts with SKIP LOCKED (the missed-readings sweep under an advisory lock), so each clock,
reminder, escalation and missed-readings alert happens once. PostgreSQL is the truth: when Redis is down
the hub warns (once a minute) and keeps running its clocks; when Redis comes back (empty: it keeps nothing
on disk) the group is re-created from the stream's start and the outbox sweep republishes every
unpublished event, so nothing is missed. Each hub beats into ``heartbeats`` so the web app can say when
no hub is running.

Pushes are at least once, per subscription: a stream entry is acknowledged only when every push it asks
for was delivered or refused for good (the subscription is gone, or can never work). A network failure, a
429, a 5xx or any unexpected error leaves it pending, and every ``hub_push_retry_s`` any hub claims the
entries pending that long (``XAUTOCLAIM``, which also recovers a dead hub's entries) and tries the
subscriptions still owed. Each failure is counted in ``dead_letters``; after
``dead_letter_max_attempts`` the entry is parked there for an admin and acknowledged. A short-lived
Redis key per event and subscription, set after delivery, stops a retry from pushing twice. Nothing is
pushed once the alert is resolved. A failure with one entry, subscription or alert never stops the hub.
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
from psycopg.rows import dict_row
from py_vapid import Vapid

from alerting import dead_letters, liveness, outage
from alerting.clocks import raise_missed_readings, run_clocks
from alerting.delivery import PushDelivery, Resolver, Sender
from alerting.outbox import publish_pending
from alerting.push import build_push_payload, resolve_host, send_push
from alerting.throttle import WarningThrottle
from vward import heartbeat
from vward.config import Settings

log = logging.getLogger(__name__)

PUSHED_KEY_TTL_S = 24 * 3600
READ_COUNT = 100
_ROLES = {"nurses": "nurse", "coordinators": "coordinator"}

_ALERT = (
    "SELECT a.id AS alert_id, a.status, a.risk, a.trigger, a.news2_total, a.news2_complete,"
    " a.escalation_level, a.npews_total, a.npews_complete, a.awaiting_grade,"
    " w.id AS ward_id, w.name AS ward_name FROM alerts a JOIN admissions ad ON ad.id = a.admission_id"
    " JOIN wards w ON w.id = ad.ward_id WHERE a.id = %s"
)
_RECIPIENTS = (
    "SELECT DISTINCT ps.id, ps.user_id, ps.endpoint, ps.p256dh, ps.auth FROM push_subscriptions ps"
    " JOIN users u ON u.id = ps.user_id JOIN user_wards uw ON uw.user_id = u.id"
    " WHERE uw.ward_id = %s AND u.active AND u.on_duty AND u.role = ANY(%s) ORDER BY ps.id"
)


class MalformedEntry(Exception):
    """A stream entry without the fields the hub needs: retrying can never help."""


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
        resolver: Resolver = resolve_host,
    ) -> None:
        self.settings = settings
        self.conn = conn  # autocommit; every unit of work opens its own transaction
        self.redis = redis_client
        self.vapid = vapid
        self.delivery = PushDelivery(settings, conn=conn, vapid=vapid, sender=sender, resolver=resolver)
        self.warnings = WarningThrottle(log)
        self._group_ready = False
        self._next_retry = 0.0  # time.monotonic() of the next claim of stale pending entries

    def tick(self, now: datetime) -> dict[str, int]:
        """Clocks and missed readings (PostgreSQL only), then the outbox sweep (skipped if Redis is down)."""
        escalated = run_clocks(self.conn, settings=self.settings, now=now)
        missed = raise_missed_readings(self.conn, settings=self.settings, now=now)
        published = publish_pending(self.conn, self.redis, settings=self.settings, warnings=self.warnings)
        return {"changed": escalated, "missed_readings": missed, "published": published}

    def beat(self, now: datetime) -> None:
        """Tells the web app this hub is alive (``heartbeats``, component 'hub'), and tells the coordinators
        if ingest has gone silent (once per outage, whichever process notices first)."""
        heartbeat.beat(self.conn, component="hub", instance=self.settings.hub_consumer_name, now=now)
        seen = liveness.states(heartbeat.latest(self.conn), now=now, stale_after_s=self.settings.heartbeat_stale_s)
        outage.announce(self.conn, self.delivery, seen, now=now)

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

    def _settle(self, entry_id: bytes, raw: Mapping[bytes, bytes], *, claimed: bool = False) -> None:
        """Push what the entry asks for and acknowledge it; a failure worth retrying leaves it pending and
        is counted in ``dead_letters``, which parks it (then it is acknowledged) after the retry limit."""
        entry = entry_id.decode()
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        try:
            problem = self.handle(fields)
        except (redis.RedisError, psycopg.OperationalError):
            raise  # an outage, not this entry's fault: the run loop waits and the entry stays pending
        except MalformedEntry as exc:
            log.warning("hub: stream entry %s is malformed (%s); parked as a dead letter", entry, exc)
            dead_letters.park(self.conn, kind="stream_entry", ref=entry, payload=fields, error=str(exc),
                              now=datetime.now(UTC))  # fmt: skip
            self._ack(entry_id)
            return
        except Exception as exc:  # one entry's failure must never stop the hub
            log.error("hub: stream entry %s failed; will retry", entry, exc_info=True)
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            if claimed:  # a retry that worked: forget the earlier failures
                dead_letters.clear(self.conn, kind="stream_entry", ref=entry)
            self._ack(entry_id)
            return
        status = dead_letters.record_failure(
            self.conn, kind="stream_entry", ref=entry, payload=fields, error=problem, now=datetime.now(UTC),
            max_attempts=self.settings.dead_letter_max_attempts,
        )  # fmt: skip
        if status == "parked":
            log.warning("giving up pushing stream entry %s after %s attempts (%s); parked as a dead letter",
                        entry, self.settings.dead_letter_max_attempts, problem)  # fmt: skip
            self._ack(entry_id)

    def _ack(self, entry_id: bytes) -> None:
        self.redis.xack(self.settings.alert_stream, self.settings.hub_consumer_group, entry_id)

    def _retry_pending(self) -> int:
        """Claims entries pending for ``hub_push_retry_s`` (this hub's failures or a dead hub's) and settles
        them again. Returns how many."""
        if time.monotonic() < self._next_retry:
            return 0
        self._next_retry = time.monotonic() + self.settings.hub_push_retry_s
        entries = self.redis.xautoclaim(
            self.settings.alert_stream, self.settings.hub_consumer_group, self.settings.hub_consumer_name,
            min_idle_time=int(self.settings.hub_push_retry_s * 1000), start_id="0-0", count=READ_COUNT,
        )[1]  # fmt: skip
        for entry_id, raw in entries:
            self._settle(entry_id, raw, claimed=True)
        return len(entries)

    def _read(self, block_ms: int | None) -> Any:
        return self.redis.xreadgroup(
            self.settings.hub_consumer_group,
            self.settings.hub_consumer_name,
            {self.settings.alert_stream: ">"},
            count=READ_COUNT,
            block=block_ms,
        )

    def handle(self, fields: Mapping[str, str]) -> str | None:
        """Sends the push an event asks for (``notify``) to the on-duty clinicians not yet reached; returns
        why a push failed in a way worth retrying, or None when nothing is left to do."""
        audiences = [a for a in fields.get("notify", "").split(",") if a in _ROLES]
        if not audiences or self.vapid is None:
            return None
        try:
            alert_id, event_id, event = int(fields["alert_id"]), fields["event_id"], fields["event"]
        except (KeyError, ValueError) as exc:
            raise MalformedEntry(f"no valid alert_id, event_id and event: {exc!r}") from exc
        with self.conn.cursor(row_factory=dict_row) as cur:
            alert = cur.execute(_ALERT, (alert_id,)).fetchone()
            if alert is None or alert["status"] == "resolved":
                return None
            subs = cur.execute(_RECIPIENTS, (alert["ward_id"], [_ROLES[a] for a in audiences])).fetchall()
        payload = build_push_payload({**alert, "event": event})
        problem = None
        for sub in subs:
            pushed = f"{self.settings.alert_stream}:pushed:{event_id}:{sub['id']}"
            if self.redis.exists(pushed):
                continue
            outcome, reason = self.delivery.send(sub, payload)
            if outcome == "delivered":
                self.redis.set(pushed, 1, ex=PUSHED_KEY_TTL_S)
            elif outcome == "retry":
                problem = f"subscription {sub['id']}: {reason}"
        return problem

    def run(self, stop: threading.Event, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """Beats, ticks every ``hub_tick_s`` and consumes in between until ``stop`` is set (SIGTERM).

        Nothing that fails in here ends the loop: outages are waited out, anything else is logged."""
        pause = min(self.settings.hub_tick_s, self.settings.heartbeat_interval_s, 1.0)
        block_ms = max(1, int(pause * 1000))
        next_tick = next_beat = 0.0
        while not stop.is_set():
            try:
                clock = now().timestamp()
                if clock >= next_beat:
                    next_beat = clock + self.settings.heartbeat_interval_s
                    self.beat(now())
                if clock >= next_tick:
                    next_tick = clock + self.settings.hub_tick_s
                    self.tick(now())
                self.consume(block_ms)
            except redis.RedisError as exc:
                self._group_ready = False
                self.warnings.warning("redis", "hub: Redis unavailable (%s); clocks keep running", type(exc).__name__)
                stop.wait(pause)
            except psycopg.OperationalError as exc:
                self.warnings.warning("postgres", "hub: PostgreSQL unavailable (%s); retrying",
                                      str(exc).strip()[:200])  # fmt: skip
                stop.wait(self.settings.hub_tick_s)
                self._reconnect()
            except Exception:  # a bug must not silence the alert path: log it and carry on
                log.exception("hub: unexpected failure; carrying on")
                stop.wait(pause)

    def _reconnect(self) -> None:
        if self.conn.closed or self.conn.broken:
            try:
                self.conn = self.delivery.conn = psycopg.connect(self.settings.database_url, autocommit=True)
            except psycopg.OperationalError:
                return  # still down: the next failure retries
