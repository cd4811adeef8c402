"""Process heartbeats in PostgreSQL: who is alive, and since when each one has been silent.

Every long-running process (ingest, hub, web) calls ``beat`` on a timer; ``/healthz`` and the clinician
pages read ``latest`` and compare each age with a threshold. The database holds them, not Redis, because
the question "is the alert hub running?" must be answerable when Redis is the thing that is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True, slots=True)
class Heartbeat:
    component: str
    instance: str
    beat_at: datetime
    detail: dict[str, Any]


def beat(
    conn: psycopg.Connection,
    *,
    component: str,
    instance: str,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Records that ``component``/``instance`` is alive at ``now`` (the caller commits)."""
    conn.execute(
        "INSERT INTO heartbeats (component, instance, beat_at, detail) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (component, instance) DO UPDATE SET beat_at = EXCLUDED.beat_at, detail = EXCLUDED.detail",
        (component, instance, now, Jsonb(dict(detail or {}))),
    )


def latest(conn: psycopg.Connection) -> list[Heartbeat]:
    """Every recorded process's last beat, by component then instance."""
    with conn.cursor(row_factory=class_row(Heartbeat)) as cur:
        return cur.execute(
            "SELECT component, instance, beat_at, detail FROM heartbeats ORDER BY component, instance"
        ).fetchall()
