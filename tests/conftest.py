"""Session fixtures: the real PostgreSQL, Redis and Mosquitto, started by the project's own service code.

Each test session gets its own directory and free ports, so the suite runs beside a running platform
(or another suite). Under pytest-xdist (``scripts/test.sh`` runs ``-n``) every worker is such a session, with
servers of its own: a test that stops or restarts one stops only its worker's. Integration tests clean the
tables they use with ``clean_db``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import psycopg
import pytest
import redis

from vward import db
from vward.config import Settings
from vward.ephemeral import EphemeralServices, ephemeral_services


@pytest.fixture(scope="session")
def test_services() -> Iterator[EphemeralServices]:
    """PostgreSQL, Redis and Mosquitto for this session (this xdist worker), migrated."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with ephemeral_services(prefix=f"vward-test-{worker}-") as started:
        yield started


@pytest.fixture(scope="session")
def settings(test_services: EphemeralServices) -> Settings:
    return test_services.settings


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
        tables = ", ".join(sorted(set(_DATA_TABLES) | set(extra)))
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
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
