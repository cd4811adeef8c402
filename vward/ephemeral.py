"""Throwaway PostgreSQL, Redis and Mosquitto (and a RabbitMQ cluster) on free ports in a temporary directory.

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

from vward import db, mqtt_auth, rabbitmq_cluster, services
from vward.config import Settings, broker_service_accounts
from vward.rabbitmq_admin import Management, provision


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
        "VWARD_BROKER": settings.broker,
        "VWARD_MQTT_ENDPOINTS": settings.mqtt_endpoints,
        "VWARD_AMQP_ENDPOINTS": settings.amqp_endpoints,
        "VWARD_AMQP_QUEUE": settings.amqp_queue,
        "VWARD_AMQP_HEARTBEAT_S": str(settings.amqp_heartbeat_s),
        "VWARD_AMQP_TLS": str(settings.amqp_tls).lower(),
        "VWARD_RABBITMQ_MANAGEMENT_URLS": settings.rabbitmq_management_urls,
        "VWARD_MQTT_ADMIN_PASSWORD": settings.mqtt_admin_password,
    }


@dataclass(frozen=True)
class EphemeralCluster:
    cluster: rabbitmq_cluster.Cluster
    management: Management
    settings: Settings  # the given settings with broker = rabbitmq and this cluster's endpoints


@contextmanager
def ephemeral_cluster(settings: Settings, base: Path) -> Iterator[EphemeralCluster]:
    """A three-node RabbitMQ cluster on free ports under ``base`` (private to the caller), its queue and
    service accounts set up; stopped and removed on exit. Node names are random, so clusters of parallel
    test sessions never meet (they share the machine's epmd)."""
    ports = [rabbitmq_cluster.NodePorts(*(free_port() for _ in range(6))) for _ in range(3)]
    cluster = rabbitmq_cluster.plan(base, ports, free_port())
    try:
        management = rabbitmq_cluster.start(
            cluster, admin_user=mqtt_auth.ADMIN_USERNAME, admin_password=settings.mqtt_admin_password
        )
        cluster_settings = settings.model_copy(
            update={
                "broker": "rabbitmq",
                "mqtt_host": "127.0.0.1",
                "mqtt_port": cluster.nodes[0].mqtt,
                "mqtt_endpoints": cluster.mqtt_endpoints,
                "amqp_endpoints": cluster.amqp_endpoints,
                "rabbitmq_management_urls": cluster.management_urls,
                "mqtt_tls": False,
            }
        )
        provision(management, cluster_settings)
        yield EphemeralCluster(cluster, management, cluster_settings)
    finally:
        rabbitmq_cluster.stop(cluster)
        shutil.rmtree(base, ignore_errors=True)
