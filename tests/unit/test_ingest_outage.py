"""Outage handling without I/O: warnings limited to one a minute with a count, and a device directory
that keeps serving its cache (and never raises a database error) while PostgreSQL is down."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import psycopg
import pytest

from ingest.decode import DeviceAssignment
from ingest.devices import DeviceDirectory, DirectoryUnavailable
from ingest.outage import OutageLog


def test_one_warning_a_minute_with_the_count_held_back(caplog: pytest.LogCaptureFixture) -> None:
    outage = OutageLog(logging.getLogger("test.outage"), interval_s=60)
    with caplog.at_level(logging.INFO, logger="test.outage"):
        logged = [outage.warn("database", "down", now=t) for t in range(0, 120)]
        outage.recovered("database", "back")
        outage.recovered("database", "back")  # only once
    assert logged.count(True) == 2 and logged[0] and logged[60]
    assert [r.getMessage() for r in caplog.records] == [
        "down",
        "down (59 more like this in the last 60 s)",
        "back (59 warnings held back)",
    ]


class _Database:
    """Stands in for a connection factory: answers from ``rows`` unless it is ``down``."""

    def __init__(self, rows: list[tuple[object, ...]]) -> None:
        self.rows, self.down, self.queries = rows, False, 0

    def __call__(self) -> _Database:
        if self.down:
            raise psycopg.OperationalError("connection refused")
        return self

    def __enter__(self) -> _Database:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def execute(self, _sql: str, params: tuple[str, ...] | None = None) -> _Database:
        self.queries += 1
        self.result = [r for r in self.rows if params is None or r[0] == params[0]]
        return self

    def fetchall(self) -> list[tuple[object, ...]]:
        return self.result

    def fetchone(self) -> tuple[object, ...] | None:
        return self.result[0] if self.result else None


def test_directory_keeps_its_cache_and_backs_off_while_the_database_is_down() -> None:
    admitted = datetime(2026, 11, 28, tzinfo=UTC)
    database = _Database([("ox-000001", 7, admitted, 1)])
    clock = [0.0]
    directory = DeviceDirectory(
        database,  # type: ignore[arg-type]
        ttl_s=15,
        clock=lambda: clock[0],
        background=lambda reload: reload(),  # the reload runs in the lookup that starts it
    )
    known = DeviceAssignment("ox-000001", 7, admitted, 1)
    assert directory.lookup("ox-000001") == known
    database.down = True
    clock[0] = 20.0  # the reload fails: the cache still answers, nothing raises
    assert directory.lookup("ox-000001") == known
    assert not directory.available
    with pytest.raises(DirectoryUnavailable):  # a device the cache does not know: held by the caller
        directory.lookup("ox-000002")
    database.down = False
    database.rows.append(("ox-000002", 8, admitted, 2))
    with pytest.raises(DirectoryUnavailable):  # still inside the back-off: no query
        directory.lookup("ox-000002")
    clock[0] = 30.0
    assert directory.lookup("ox-000002") == DeviceAssignment("ox-000002", 8, admitted, 2)
    assert directory.available


def test_a_reload_after_the_first_runs_in_the_background_and_the_cache_answers_meanwhile() -> None:
    """Reloading on paho's thread stalled every message behind it; only the first load is inline."""
    admitted = datetime(2026, 11, 28, tzinfo=UTC)
    database = _Database([("ox-000001", 7, admitted, 1)])
    clock, started = [0.0], []
    directory = DeviceDirectory(
        database,  # type: ignore[arg-type]
        ttl_s=15,
        clock=lambda: clock[0],
        background=started.append,
    )
    assert directory.lookup("ox-000001") == DeviceAssignment("ox-000001", 7, admitted, 1)  # first load inline
    assert started == []
    database.rows[0] = ("ox-000001", 9, admitted, 1)  # readmitted
    clock[0] = 20.0
    assert directory.lookup("ox-000001") == DeviceAssignment("ox-000001", 7, admitted, 1)  # old cache answers
    assert directory.lookup("ox-000001") == DeviceAssignment("ox-000001", 7, admitted, 1)
    assert len(started) == 1  # one reload at a time
    started[0]()
    assert directory.lookup("ox-000001") == DeviceAssignment("ox-000001", 9, admitted, 1)
    assert len(started) == 1
