"""The schema on both storages: PostgreSQL daily partitions (always tested) and TimescaleDB (where installed).

Each case starts its own PostgreSQL so the mode is fixed whatever the rest of the session uses.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from vward import db, services
from vward.config import Settings
from vward.ephemeral import free_port
from vward.partition_days import first_partition_day


@pytest.fixture(params=["partitioned", "timescaledb"])
def fresh_database(request: pytest.FixtureRequest) -> Iterator[tuple[str, Settings]]:
    mode = request.param
    if mode == "timescaledb" and not services.timescaledb_installed():
        pytest.skip("TimescaleDB is not installed for this PostgreSQL (see README: Storage)")
    base = Path(tempfile.mkdtemp(prefix="vward-storage-"))
    base.chmod(0o755)
    port = free_port()
    try:
        services.start_postgres(
            base, port, user="vward", password="pw", database="vward", use_timescaledb=mode == "timescaledb"
        )
        yield mode, Settings(database_url=f"postgresql://vward:pw@127.0.0.1:{port}/vward", readings_retention_days=30)
    finally:
        services.stop_postgres(base)
        shutil.rmtree(base, ignore_errors=True)


def test_migrations_apply_to_an_empty_database_then_reapply_as_noop(fresh_database: tuple[str, Settings]) -> None:
    mode, settings = fresh_database
    applied = db.migrate(settings)
    assert applied[0] == "0001_core" and applied == sorted(applied)
    assert db.migrate(settings) == []
    with db.connect(settings) as conn:
        assert db.storage_mode(conn) == mode
        recorded = conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()
        assert recorded == (len(applied),)


def _insert_reading(conn: psycopg.Connection, day: date) -> None:
    conn.execute(
        "INSERT INTO readings (measured_at, device_id, admission_id, received_at, hr, news2_total, news2_complete,"
        " news2_risk, score_pulse) VALUES (%s::date + time '12:00', 'wr-000001', 1, now(), 80, 0, false, 'low', 0)",
        (day,),
    )


def test_partitions_are_made_ahead_and_dropped_after_retention(fresh_database: tuple[str, Settings]) -> None:
    mode, settings = fresh_database
    if mode != "partitioned":
        pytest.skip("daily partitions are the plain-PostgreSQL mode")
    db.migrate(settings)
    today = date.today()
    with db.connect(settings) as conn:
        db.maintain_readings(conn, settings, first_day=today - timedelta(days=40))
        parts = {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'readings'::regclass"
            ).fetchall()
        }
        # From the retention horizon (30 days) to today + partitions_ahead_days.
        assert f"readings_{(today + timedelta(days=settings.partitions_ahead_days)):%Y%m%d}" in parts
        assert f"readings_{(today - timedelta(days=30)):%Y%m%d}" in parts
        assert f"readings_{(today - timedelta(days=31)):%Y%m%d}" not in parts
        _insert_reading(conn, today)
        with pytest.raises(psycopg.errors.UniqueViolation):
            _insert_reading(conn, today)
        conn.rollback()
        # A partition made earlier that has fallen out of retention is dropped with its rows.
        conn.execute(
            "CREATE TABLE readings_20000101 PARTITION OF readings FOR VALUES FROM ('2000-01-01') TO ('2000-01-02')"
        )
        db.maintain_readings(conn, settings)
        assert conn.execute("SELECT to_regclass('readings_20000101')").fetchone() == (None,)


def test_by_default_partitions_reach_back_over_the_late_window(fresh_database: tuple[str, Settings]) -> None:
    """``vward migrate``, ingest and the tests' clean database all keep partitions this far back."""
    mode, settings = fresh_database
    if mode != "partitioned":
        pytest.skip("daily partitions are the plain-PostgreSQL mode")
    db.migrate(settings)
    now = datetime.now(UTC)
    with db.connect(settings) as conn:
        db.maintain_readings(conn, settings, now=now)
        first = first_partition_day(now, settings.ingest_late_window)
        assert conn.execute("SELECT to_regclass(%s)", (f"readings_{first:%Y%m%d}",)).fetchone() != (None,)
        # The oldest reading any door still accepts has a partition to go to.
        conn.execute(
            "INSERT INTO readings (measured_at, device_id, admission_id, received_at, news2_total, news2_complete,"
            " news2_risk) VALUES (%s, 'wr-000001', 1, %s, 0, false, 'low')",
            (now - settings.ingest_late_window, now),
        )


def test_timescaledb_hypertable_with_compression_and_retention(fresh_database: tuple[str, Settings]) -> None:
    mode, settings = fresh_database
    if mode != "timescaledb":
        pytest.skip("hypertable checks need TimescaleDB")
    db.migrate(settings)
    with db.connect(settings) as conn:
        db.maintain_readings(conn, settings)
        assert conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'"
        ).fetchone() == (1,)
        jobs = {
            r[0]
            for r in conn.execute(
                "SELECT proc_name FROM timescaledb_information.jobs WHERE hypertable_name = 'readings'"
            ).fetchall()
        }
        assert {"policy_compression", "policy_retention"} <= jobs
        old = date.today() - timedelta(days=10)
        _insert_reading(conn, old)
        conn.commit()
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('readings', older_than => now() - interval '9 days') c")
        row = conn.execute("SELECT hr FROM readings WHERE measured_at::date = %s", (old,)).fetchone()
        assert row == (80.0,)
