"""Telling the coordinators by push that the alert path is down (the banner tells everyone on a page).

Whichever surviving process sees an outage first (the web app, or a hub seeing ingest silent) records it
in ``outage_notices``; the primary key on (component, since) makes every other process skip it, so each
outage is announced once. Best effort: a failed notice is not retried, the banner keeps saying it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from alerting.delivery import PushDelivery
from alerting.liveness import ComponentState, outages

_COORDINATORS = (
    "SELECT ps.id, ps.user_id, ps.endpoint, ps.p256dh, ps.auth FROM push_subscriptions ps"
    " JOIN users u ON u.id = ps.user_id WHERE u.role = 'coordinator' AND u.active AND u.on_duty ORDER BY ps.id"
)


def notice_payload(outage: dict[str, Any]) -> dict[str, Any]:
    """The push for one outage (no patient data): the banner's words, opening the queue."""
    return {
        "title": str(outage["text"]).split(" — ")[0],
        "body": outage["text"],
        "tag": f"outage-{outage['component']}",
        "url": "/",
        "renotify": True,
    }


def announce(
    conn: psycopg.Connection, delivery: PushDelivery, states: dict[str, ComponentState], *, now: datetime
) -> list[str]:
    """Pushes each alert-path outage not yet announced to the on-duty coordinators; returns the components
    announced by this call. Components that never beat are not announced (never deployed is not an outage)."""
    if delivery.vapid is None:
        return []
    announced = []
    for outage in outages(states):
        if outage["since"] is None:
            continue
        first = conn.execute(
            "INSERT INTO outage_notices (component, since, notified_at) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (outage["component"], states[str(outage["component"])].last_beat_at, now),
        ).fetchone()
        if first is None:
            continue
        with conn.cursor(row_factory=dict_row) as cur:
            subs = cur.execute(_COORDINATORS).fetchall()
        for sub in subs:
            delivery.send(sub, notice_payload(outage))
        announced.append(str(outage["component"]))
    return announced
