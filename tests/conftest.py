"""Session fixtures: the real PostgreSQL, Redis and Mosquitto, started by the project's own service code.

Each test session gets its own directory and free ports, so the suite runs beside a running platform
(or another suite). Under pytest-xdist (``scripts/test.sh`` runs ``-n``) every worker is such a session, with
servers of its own: a test that stops or restarts one stops only its worker's. Integration tests clean the
tables they use with ``clean_db``.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator

import psycopg
import pytest
import redis
from psycopg import sql

from vward import db
from vward.config import Settings
from vward.ephemeral import EphemeralServices, ephemeral_services


@pytest.fixture(scope="session")
def test_services() -> Iterator[EphemeralServices]:
    """PostgreSQL, Redis and Mosquitto for this session (this xdist worker), migrated."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with ephemeral_services(prefix=f"vward-test-{worker}-") as started:
        with psycopg.connect(started.settings.database_url, autocommit=True) as conn:
            # Durability against a power cut is not what any test shows, and six suites share one disk:
            # commits still reach the operating system before they return, so stopping or killing the
            # server (the fault tests) loses nothing that fsync would have kept.
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("SELECT pg_reload_conf()")
        yield started


@pytest.fixture(scope="session")
def settings(test_services: EphemeralServices) -> Settings:
    return test_services.settings


@pytest.fixture(scope="session", autouse=True)
def demo_password_hashed_once() -> Iterator[None]:
    """Argon2 is slow by design (about 0.3 s a hash or a check, seconds on a busy machine), and a hundred
    tests seed the demo users, who share one password, and sign in: in a test process the seed hashes it
    once and sign-in checks each (password, hash) pair once. Both remain real Argon2 over the real values;
    a repeat only returns the answer Argon2 gave the first time."""
    from clinician_ui import security
    from vward import seed

    originals = seed.hash_user_password, security.verify_password
    seed.hash_user_password = functools.cache(originals[0])
    security.verify_password = functools.cache(originals[1])
    yield
    seed.hash_user_password, security.verify_password = originals


_DATA_TABLES = (
    "readings",
    "quarantine",
    "observation_state",
    "audit_log",
    "alert_events",
    "alert_notes",
    "alerts",
    "push_subscriptions",
    "devices",
    "admissions",
    "patients",
    "user_wards",
    "users",
    "wards",
)


def _broker_supervised(started: EphemeralServices) -> None:
    """Restarts the session's broker if it has died, as systemd restarts production's (``Restart=always``),
    and says so in the log: Debian's Mosquitto 2.0.11 segfaulted between two tests in one of several runs of
    the whole suite, and not when the same tests ran on their own. Ingest recovering from a broker restart
    is tested in ``test_fault_broker.py``."""
    from vward import services

    if not services.mosquitto_running(started.base):
        logging.getLogger(__name__).warning("the test broker had died; restarting it")
        services.restart_mosquitto(started.base, started.ports.mqtt)


def _empty(conn: psycopg.Connection, tables: list[str]) -> None:
    """Empties ``tables`` and restarts their ids, as ``TRUNCATE ... RESTART IDENTITY CASCADE`` would.

    TRUNCATE makes new files for every table, index and (through ``readings``) every daily partition: about
    a second on a busy machine, paid by each of some 250 tests. Deleting the few rows a test leaves is a few
    milliseconds; ``readings`` alone can be large, so it is truncated when it has rows. Foreign keys are not
    checked while every table is emptied in the same transaction."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        for table in tables:
            if table != "readings":
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        sequences = conn.execute(
            "SELECT s.oid::regclass::text FROM pg_class s"
            " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')"
            " JOIN pg_class t ON t.oid = d.refobjid"
            " WHERE s.relkind = 'S' AND t.relnamespace = 'public'::regnamespace AND t.relname = ANY(%s)",
            (tables,),
        ).fetchall()
        for (sequence,) in sequences:
            conn.execute(sql.SQL("ALTER SEQUENCE {} RESTART").format(sql.SQL(sequence)))
    if conn.execute("SELECT EXISTS (SELECT FROM readings)").fetchone() == (True,):
        conn.execute("TRUNCATE readings")


@pytest.fixture
def clean_db(test_services: EphemeralServices, settings: Settings) -> Iterator[psycopg.Connection]:
    """An empty database (schema kept), seeded with the LLR wards; yields an autocommit connection."""
    from vward.seed import seed_wards

    _broker_supervised(test_services)

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        extra = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename NOT LIKE 'readings_%%' AND tablename NOT LIKE '\\_yoyo%%'"
                " AND tablename <> 'yoyo_lock'"
            ).fetchall()
        ]
        _empty(conn, sorted(set(_DATA_TABLES) | set(extra)))
        # Every day a late reading may still arrive for, as ingest keeps them (a test's readings of an hour
        # ago, just after midnight, belong to yesterday's partition).
        db.maintain_readings(conn, settings)
        seed_wards(conn)
        yield conn


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url)
    client.flushdb()
    yield client
    client.close()


class _FailOnLoggedErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_logged_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test in which anything logged an error, unless it is marked ``allow_error_logs``."""
    handler = _FailOnLoggedErrors()
    logging.getLogger().addHandler(handler)
    yield
    logging.getLogger().removeHandler(handler)
    if handler.records and not request.node.get_closest_marker("allow_error_logs"):
        pytest.fail("errors were logged: " + "; ".join(r.getMessage()[:200] for r in handler.records))


@pytest.fixture
def running_ingest(settings: Settings) -> Iterator[object]:
    """An ingest worker in a background thread of this process, on a fresh MQTT session."""
    import threading

    from ingest.metrics import IngestMetrics
    from ingest.worker import IngestWorker

    stop = threading.Event()
    worker = IngestWorker(
        settings.model_copy(update={"mqtt_shared_group": None}),
        metrics=IngestMetrics(),
        index=0,  # its own broker account; leave=True below ends with nothing subscribed or queued
    )
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"leave": True}, daemon=True)
    thread.start()
    assert worker.subscribed.wait(10), "ingest did not subscribe"
    yield worker
    stop.set()
    thread.join(15)
    assert not thread.is_alive(), "ingest did not stop"


_MARKERS_BY_FOLDER = {"integration": ("integration",), "browser": ("browser", "integration")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test by the folder it lives in, so no file can forget its marker."""
    for item in items:
        for folder, markers in _MARKERS_BY_FOLDER.items():
            if f"tests/{folder}/" in item.path.as_posix():
                for marker in markers:
                    item.add_marker(getattr(pytest.mark, marker))
