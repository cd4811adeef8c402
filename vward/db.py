"""PostgreSQL access shared by every process: connections, the migration runner and the storage mode."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime
from importlib import resources

import psycopg
from yoyo import get_backend, read_migrations

from vward.config import Settings
from vward.partition_days import first_partition_day

log = logging.getLogger(__name__)


def connect(settings: Settings, *, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(settings.database_url, autocommit=autocommit)


def _yoyo_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else database_url


def migrate(settings: Settings) -> list[str]:
    """Applies the ordered SQL migrations not yet recorded in the database; returns the ids applied."""
    backend = get_backend(_yoyo_url(settings.database_url))
    migrations = read_migrations(str(resources.files("vward") / "migrations"))
    try:
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
    finally:
        backend.connection.close()
    return [m.id for m in pending]


def storage_mode(conn: psycopg.Connection) -> str:
    """'timescaledb' (hypertable) or 'partitioned' (PostgreSQL declarative daily partitions)."""
    row = conn.execute("SELECT vward_storage_mode()").fetchone()
    assert row is not None
    return str(row[0])


# pg_advisory_xact_lock key of readings maintenance ("vwardmnt" as a bigint).
_MAINTENANCE_LOCK = int.from_bytes(b"vwardmnt", "big") - (1 << 63)


def maintain_readings(
    conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None, first_day: date | None = None
) -> None:
    """Creates partitions from ``first_day`` (by default every day a late reading may still arrive for,
    ``first_partition_day``) to the days ahead, and applies retention (or the TimescaleDB policies); safe to
    call often.

    One caller at a time: ``CREATE TABLE IF NOT EXISTS`` does not see a partition another transaction is
    creating, so two ingest processes starting together made the same partition and the second failed
    with DuplicateTable. The lock is held to the end of the caller's transaction."""
    if first_day is None:
        first_day = first_partition_day(now or datetime.now(UTC), settings.ingest_late_window)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MAINTENANCE_LOCK,))
        conn.execute(
            "SELECT vward_maintain_readings(%(first)s, %(ahead)s, %(retention)s, %(compress)s)",
            {
                "first": first_day,
                "ahead": settings.partitions_ahead_days,
                "retention": settings.readings_retention_days,
                "compress": settings.readings_compress_after_days,
            },
        )


def bigint_array(ids: Iterable[int]) -> str:
    """A ``bigint[]`` literal for ``%s::bigint[]``: psycopg dumps a list element by element in Python, which
    cost ingest milliseconds per batch of thousands of admissions; ``str.join`` does it in C."""
    return "{" + ",".join(map(str, ids)) + "}"
