"""Readings maintenance run by two processes at once (two ingest consumers starting together) both succeed."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import psycopg

from tests.integration.mqtt_helpers import count, wait_until
from vward import db
from vward.config import Settings


def test_a_second_maintainer_waits_for_the_first_instead_of_failing_on_its_new_partition(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    first_day = date.today() - timedelta(days=30)  # no partition yet: clean_db keeps only the late window on
    partition = f"readings_{first_day:%Y%m%d}"
    if db.storage_mode(clean_db) == "timescaledb":
        partition = ""  # chunks are TimescaleDB's: only the two calls' success is checked
    failures: list[BaseException] = []

    with psycopg.connect(settings.database_url) as first, psycopg.connect(settings.database_url) as second:
        second_pid = second.info.backend_pid

        def maintain_second() -> None:
            try:
                db.maintain_readings(second, settings, first_day=first_day)
            except BaseException as exc:  # reported by the test's thread
                failures.append(exc)

        thread = threading.Thread(target=maintain_second)
        with first.transaction():  # like ingest's: the partition it makes is not committed yet
            db.maintain_readings(first, settings, first_day=first_day)
            thread.start()
            wait_until(
                lambda: count(
                    clean_db,
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                    second_pid,
                ),
                "the second maintainer waiting on the first",
            )
        thread.join(60)

    assert not thread.is_alive()
    assert failures == []
    if partition:
        assert count(clean_db, "SELECT count(*) FROM pg_class WHERE relname = %s", partition) == 1
