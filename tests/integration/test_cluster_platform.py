"""`vward up --cluster` end to end: the demo platform on a local three-node RabbitMQ cluster, then `vward down`.

The command runs as an operator would run it, in a state directory and on ports of its own (its own
PostgreSQL and Redis too), so it meets nothing of the session's. It must print where to go, put the
readings queue on all three nodes with two ingest consumers, and the simulated devices, each on its own
account, must get their readings stored through the cluster. `vward down` must leave no node running.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.mqtt_helpers import metric, wait_until
from vward import rabbitmq_cluster
from vward.config import Settings
from vward.ephemeral import free_port, settings_env
from vward.rabbitmq_admin import Management

pytestmark = pytest.mark.cluster

VWARD = str(Path(sys.executable).with_name("vward"))
_PORT_BLOCK = 40  # the cluster's ports (VWARD_LOCAL_CLUSTER_PORT + 0 ... + 38) and its MQTT listeners


def _free_block(size: int) -> int:
    """The first port of ``size`` consecutive ports that nothing listens on now."""
    for _ in range(200):
        first = random.randrange(20_000, 60_000)
        try:
            for port in range(first, first + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise AssertionError("no block of free ports")


def _metric_or_zero(port: int, name: str) -> float:
    try:
        return metric(port, name)
    except OSError:
        return 0.0


@pytest.fixture
def state() -> Iterator[Path]:
    """The platform's state directory, outside pytest's private tmp: the postgres user must reach it."""
    path = Path(tempfile.mkdtemp(prefix="vward-test-up-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_vward_up_cluster_runs_the_demo_through_the_cluster_and_down_stops_every_node(
    settings: Settings, state: Path
) -> None:
    first = _free_block(_PORT_BLOCK)
    # Within the block: MQTT on + 4, + 5, + 6 and MQTT over TLS on + 7, + 8, + 9 (AMQP over TLS is on + 3).
    metrics_port, web_port, mqtt_port, mqtt_tls_port = free_port(), free_port(), first + 4, first + 7
    db_url = f"postgresql://vward:platform-pw@127.0.0.1:{free_port()}/vward"
    env = {
        **settings_env(settings),
        "VWARD_STATE_DIR": str(state),
        "VWARD_DATABASE_URL": db_url,
        "VWARD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "VWARD_MQTT_PORT": str(mqtt_port),
        "VWARD_MQTT_TLS_PORT": str(mqtt_tls_port),
        "VWARD_LOCAL_CLUSTER_PORT": str(first),
        "VWARD_INGEST_METRICS_PORT": str(metrics_port),
        "VWARD_WEB_PORT": str(web_port),
        "VWARD_BROKER": "mosquitto",  # --cluster alone must switch everything to the cluster
    }
    try:
        up = subprocess.run(
            [VWARD, "up", "--cluster", "--occupancy", "0.05"], env=env, capture_output=True, text=True, timeout=900
        )
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"Open http://127.0.0.1:{web_port}/" in up.stdout
        assert f"127.0.0.1:{first}" in up.stdout  # the AMQP endpoints it printed are the cluster's
        assert f"over TLS: MQTT 127.0.0.1:{mqtt_tls_port}," in up.stdout

        cluster = rabbitmq_cluster.Cluster.load(state / "rabbitmq")
        assert cluster is not None
        assert all(rabbitmq_cluster.node_pid(cluster, i) for i in range(rabbitmq_cluster.NODES))
        management = Management(cluster.management_urls.split(","), "vward-broker-admin", settings.mqtt_admin_password)
        queue = management.check_readings_queue(settings.amqp_queue)
        assert len(queue["members"]) == 3

        # Both ingest processes consume the queue, and the simulator's devices (their own accounts, on
        # the cluster's MQTT listeners) get readings stored through it.
        ports = [metrics_port, metrics_port + 1]
        wait_until(
            lambda: all(_metric_or_zero(p, "vward_ingest_broker_connected") == 1 for p in ports), "two consumers", 120
        )
        wait_until(lambda: (management.queue(settings.amqp_queue) or {}).get("consumers") == 2, "2 consumers", 60)
        wait_until(
            lambda: sum(_metric_or_zero(p, "vward_ingest_readings_stored_total") for p in ports) > 0,
            "a simulated device's reading stored through the cluster",
            180,
        )
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM readings WHERE received_at > now() - interval '10 minutes'"
            ).fetchone()
        assert row is not None and row[0] > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/livez", timeout=10) as response:
            assert response.status == 200
    finally:
        down = subprocess.run([VWARD, "down"], env=env, capture_output=True, text=True, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert all(rabbitmq_cluster.node_pid(cluster, i) is None for i in range(rabbitmq_cluster.NODES))
