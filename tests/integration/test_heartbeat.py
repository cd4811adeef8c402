"""Heartbeats are stored per process instance and overwritten at each beat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from vward import heartbeat


def test_a_beat_overwrites_the_previous_one_of_the_same_instance(clean_db: psycopg.Connection) -> None:
    t0 = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    heartbeat.beat(clean_db, component="hub", instance="host-1:42", now=t0)
    heartbeat.beat(clean_db, component="hub", instance="host-1:42", now=t0 + timedelta(seconds=5), detail={"n": 1})
    heartbeat.beat(clean_db, component="ingest", instance="0", now=t0)

    beats = heartbeat.latest(clean_db)

    assert [(b.component, b.instance, b.beat_at, b.detail) for b in beats] == [
        ("hub", "host-1:42", t0 + timedelta(seconds=5), {"n": 1}),
        ("ingest", "0", t0, {}),
    ]
