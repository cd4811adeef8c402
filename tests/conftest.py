"""Session fixtures: the real PostgreSQL, Redis and Mosquitto, started by the project's own service code.

Each test session gets its own directory and free ports, so the suite runs beside a running platform
(or another suite). Integration tests clean the tables they use with ``clean_db``.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from vward import db, services
from vward.config import Settings, broker_service_accounts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TestServices:
    base: Path
    ports: services.ServicePorts
    settings: Settings


@pytest.fixture(scope="session")
def test_services() -> Iterator[TestServices]:
    """Starts PostgreSQL, Redis and Mosquitto for this session and applies the migrations."""
    # Not under pytest's private tmp: the postgres and mosquitto users must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="vward-test-"))
    base.chmod(0o755)
    ports = services.ServicePorts(postgres=free_port(), redis=free_port(), mqtt=free_port())
    settings = Settings(
        state_dir=base,
        database_url=f"postgresql://vward:test-pw@127.0.0.1:{ports.postgres}/vward",
        redis_url=f"redis://127.0.0.1:{ports.redis}/0",
        mqtt_port=ports.mqtt,
        mqtt_ingest_password="test-ingest-pw",
        mqtt_loadgen_password="test-loadgen-pw",
        ingest_metrics_port=0,
    )
    try:
        services.start_postgres(base, ports.postgres, user="vward", password="test-pw", database="vward",
                                use_timescaledb=settings.timescaledb == "auto")
        services.start_redis(base, ports.redis)
        services.start_mosquitto(base, ports.mqtt, service_accounts=broker_service_accounts(settings),
                                 device_password_hashes={})
        db.migrate(settings)
        yield TestServices(base=base, ports=ports, settings=settings)
    finally:
        services.stop_mosquitto(base)
        services.stop_redis(base)
        services.stop_postgres(base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(test_services: TestServices) -> Settings:
    return test_services.settings


_DATA_TABLES = (
    "readings", "quarantine", "observation_state", "audit_log", "alert_events", "alert_notes", "alerts",
    "push_subscriptions", "devices", "admissions", "patients",
    "user_wards", "users", "wards",
)


@pytest.fixture
def clean_db(settings: Settings) -> Iterator[psycopg.Connection]:
    """An empty database (schema kept), seeded with the LLR wards; yields an autocommit connection."""
    from vward.seed import seed_wards

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        extra = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT LIKE 'readings_%%' AND tablename NOT LIKE '\\_yoyo%%'"
            " AND tablename <> 'yoyo_lock'"
        ).fetchall()]
        conn.execute("TRUNCATE " + ", ".join(sorted(set(_DATA_TABLES) | set(extra))) + " RESTART IDENTITY CASCADE")
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
    """Fails a test in which anything logged an error or exception, unless it is marked ``allow_error_logs``."""
    handler = _FailOnLoggedErrors()
    logging.getLogger().addHandler(handler)
    yield
    logging.getLogger().removeHandler(handler)
    if handler.records and not request.node.get_closest_marker("allow_error_logs"):
        pytest.fail("errors were logged: " + "; ".join(r.getMessage()[:200] for r in handler.records))


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment variables that give a `vward` subprocess this session's settings."""
    import os

    return {
        **os.environ,
        "VWARD_STATE_DIR": str(settings.state_dir),
        "VWARD_DATABASE_URL": settings.database_url,
        "VWARD_REDIS_URL": settings.redis_url,
        "VWARD_MQTT_PORT": str(settings.mqtt_port),
        "VWARD_MQTT_INGEST_PASSWORD": settings.mqtt_ingest_password,
        "VWARD_MQTT_LOADGEN_PASSWORD": settings.mqtt_loadgen_password,
        "VWARD_INGEST_METRICS_PORT": str(settings.ingest_metrics_port),
    }


@pytest.fixture
def running_ingest(settings: Settings) -> Iterator[object]:
    """An ingest worker in a background thread of this process, on a fresh MQTT session."""
    import threading
    import uuid

    from ingest.metrics import IngestMetrics
    from ingest.worker import IngestWorker

    stop = threading.Event()
    worker = IngestWorker(settings.model_copy(update={"mqtt_shared_group": None}), metrics=IngestMetrics(),
                          client_id=f"vward-ingest-test-{uuid.uuid4().hex[:8]}")
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"leave": True}, daemon=True)
    thread.start()
    assert worker.subscribed.wait(10), "ingest did not subscribe"
    yield worker
    stop.set()
    thread.join(15)
    assert not thread.is_alive(), "ingest did not stop"
