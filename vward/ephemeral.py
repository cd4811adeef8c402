"""Throwaway PostgreSQL, Redis and Mosquitto on free ports in a temporary directory.

The test suite and the benchmarks run against these: the same service code as ``vward up``, but never
the same ports or data, so they run beside a running platform and leave nothing behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vward import db, services
from vward.config import Settings, broker_service_accounts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class EphemeralServices:
    base: Path
    ports: services.ServicePorts
    settings: Settings


@contextmanager
def ephemeral_services(prefix: str = "vward-test-", **overrides: Any) -> Iterator[EphemeralServices]:
    """Starts the three servers, applies the migrations, and removes everything on exit."""
    # Not under a private tmp: the postgres and mosquitto users must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    ports = services.ServicePorts(postgres=free_port(), redis=free_port(), mqtt=free_port())
    values: dict[str, Any] = {
        "state_dir": base,
        "database_url": f"postgresql://vward:test-pw@127.0.0.1:{ports.postgres}/vward",
        "redis_url": f"redis://127.0.0.1:{ports.redis}/0",
        "mqtt_port": ports.mqtt,
        "mqtt_ingest_password": "test-ingest-pw",
        "mqtt_loadgen_password": "test-loadgen-pw",
        "ingest_metrics_port": 0,
        "mqtt_tls_port": free_port(),
        **overrides,
    }
    settings = Settings(**values)
    try:
        services.start_postgres(
            base,
            ports.postgres,
            user="vward",
            password="test-pw",
            database="vward",
            use_timescaledb=settings.timescaledb == "auto",
        )
        services.start_redis(base, ports.redis)
        services.start_mosquitto(
            base,
            ports.mqtt,
            service_accounts=broker_service_accounts(settings),
            device_password_hashes={},
            tls_port=settings.mqtt_tls_port,
        )
        db.migrate(settings)
        yield EphemeralServices(base=base, ports=ports, settings=settings)
    finally:
        services.stop_mosquitto(base)
        services.stop_redis(base)
        services.stop_postgres(base)
        shutil.rmtree(base, ignore_errors=True)


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment variables that give a ``vward`` subprocess these settings."""
    return {
        **os.environ,
        "VWARD_STATE_DIR": str(settings.state_dir),
        "VWARD_DATABASE_URL": settings.database_url,
        "VWARD_REDIS_URL": settings.redis_url,
        "VWARD_MQTT_PORT": str(settings.mqtt_port),
        "VWARD_MQTT_INGEST_PASSWORD": settings.mqtt_ingest_password,
        "VWARD_MQTT_LOADGEN_PASSWORD": settings.mqtt_loadgen_password,
        "VWARD_INGEST_METRICS_PORT": str(settings.ingest_metrics_port),
        "VWARD_TIMESCALEDB": settings.timescaledb,
    }
