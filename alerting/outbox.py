"""The outbox: unpublished ``alert_events`` rows pushed to the Redis stream, then marked published.

Rows are claimed ``FOR UPDATE SKIP LOCKED`` so ingest processes and hubs can publish at the same time
without sending a row twice; they are marked published only after Redis accepted the whole pipeline, so a
Redis outage leaves them for the next sweep (at-least-once: a crash between XADD and commit can repeat an
entry, which consumers recognise by ``event_id``). Stream entries carry the fields a queue row shows but no
patient-identifiable data; a reader that needs more re-reads the alert from PostgreSQL by ``alert_id``.
Entries from concurrent publishers may interleave out of event-id order.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
import redis
from psycopg.rows import dict_row

from alerting.throttle import WarningThrottle
from vward.config import Settings
from vward.vocabulary import STREAM_FIELDS

log = logging.getLogger(__name__)

_PENDING = (
    "SELECT e.id AS event_id, e.alert_id, a.admission_id, ad.ward_id, e.event, e.to_status AS status, e.risk,"
    " a.trigger, a.news2_total, a.news2_complete, a.escalation_level, a.snoozed_until, e.actor_id, e.at,"
    " e.detail"
    " FROM alert_events e JOIN alerts a ON a.id = e.alert_id JOIN admissions ad ON ad.id = a.admission_id"
    " WHERE NOT e.published ORDER BY e.id LIMIT %s FOR UPDATE OF e SKIP LOCKED"
)


def stream_fields(row: dict[str, Any]) -> dict[str, str]:
    """One stream entry from an outbox row: flat strings ('' for none), ``notify`` comma-separated."""
    detail = row["detail"] or {}
    fields = {k: row[k] for k in STREAM_FIELDS if k not in ("notify", "detail")}
    fields["notify"] = ",".join(detail.get("notify", ()))
    fields["detail"] = json.dumps({k: v for k, v in detail.items() if k != "notify"}, default=str)
    return {k: _text(fields[k]) for k in STREAM_FIELDS}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def publish_pending(
    conn: psycopg.Connection,
    redis_client: redis.Redis,
    *,
    settings: Settings,
    limit: int = 1000,
    warnings: WarningThrottle | None = None,
) -> int:
    """Publishes up to ``limit`` unpublished events; returns how many (0 with a warning if Redis is down).

    A caller that sweeps in a loop passes its ``warnings`` throttle, so an outage is reported once a minute.
    """
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(_PENDING, (limit,)).fetchall()
            if not rows:
                return 0
            pipe = redis_client.pipeline(transaction=False)
            for row in rows:
                pipe.xadd(
                    settings.alert_stream,
                    stream_fields(row),  # type: ignore[arg-type]
                    maxlen=settings.alert_stream_maxlen,
                    approximate=True,
                )
            pipe.execute()
            cur.execute(
                "UPDATE alert_events SET published = true WHERE id = ANY(%s)",
                ([r["event_id"] for r in rows],),
            )
    except redis.RedisError as exc:
        message = "alert outbox: Redis unavailable, %s left for the next sweep"
        if warnings is None:
            log.warning(message, type(exc).__name__)
        else:
            warnings.warning("outbox", message, type(exc).__name__)
        return 0
    return len(rows)
