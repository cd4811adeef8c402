"""Faults on the RabbitMQ cluster, counted exactly: stored + quarantined == PUBACKed, nothing twice.

One cluster for the module. Each test controls the moment of its fault (a held writer, a count of what
was PUBACKed or delivered) and waits on conditions, never on time.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pika
import psycopg
import pytest

from tests.integration.mqtt_helpers import (
    count,
    metric,
    numbered_messages,
    start_ingest,
    stop_ingest,
    wait_until,
    writer_held,
)
from tests.integration.rabbit_helpers import (
    FailoverDevice,
    admit_on_cluster,
    close_open_devices,
    cluster_for_module,
    consumer,
)
from vward import rabbitmq_cluster
from vward.config import Settings
from vward.ephemeral import EphemeralCluster, free_port

pytestmark = [pytest.mark.cluster, pytest.mark.allow_error_logs]  # a killed node's peers log its loss


@pytest.fixture(scope="module")
def cluster(settings: Settings) -> Iterator[EphemeralCluster]:
    with cluster_for_module(settings) as started:
        yield started


@pytest.fixture
def rsettings(cluster: EphemeralCluster) -> Iterator[Settings]:
    """The cluster's settings; every node is running again after the test (a fault test may leave one down)."""
    cluster.management.call("DELETE", f"queues/%2F/{cluster.settings.amqp_queue}/contents")
    yield cluster.settings
    close_open_devices()  # one left reconnecting would take its client id back from the next test's
    for i in range(rabbitmq_cluster.NODES):
        rabbitmq_cluster.start_node(cluster.cluster, i)
    rabbitmq_cluster.wait_running(cluster.cluster, cluster.management, range(rabbitmq_cluster.NODES))


RECEIVED, CONNECTED = "vward_ingest_messages_received_total", "vward_ingest_broker_connected"


def _metric(port: int, name: str) -> float:
    """An ingest process's metric, or -1 while it does not answer yet."""
    try:
        return metric(port, name)
    except OSError:
        return -1.0


def _ready(rsettings: Settings) -> int:
    """Messages in the queue not delivered to any consumer (asked over AMQP, which does not lag)."""
    for endpoint in rsettings.amqp_endpoint_list():
        params = pika.ConnectionParameters(
            endpoint.host,
            endpoint.port,
            credentials=pika.PlainCredentials(rsettings.mqtt_ingest_username, rsettings.mqtt_ingest_password),
            connection_attempts=1,
        )
        try:
            with pika.BlockingConnection(params) as connection:
                return int(connection.channel().queue_declare(rsettings.amqp_queue, passive=True).method.message_count)
        except pika.exceptions.AMQPError:
            continue
    raise AssertionError("no node answered")


def _assert_exact(conn: psycopg.Connection, acked: int) -> None:
    stored = count(conn, "SELECT count(*) FROM readings")
    quarantined = count(conn, "SELECT count(*) FROM quarantine")
    distinct = count(conn, "SELECT count(DISTINCT (device_id, measured_at)) FROM readings")
    assert (stored, quarantined) == (acked, 0)
    assert distinct == stored


def _loadgen(rsettings: Settings, node: int = 0) -> FailoverDevice:
    """The load generator's connection, starting on ``node``'s MQTT listener."""
    endpoints = rsettings.mqtt_endpoint_list()
    rotated = endpoints[node:] + endpoints[:node]
    start_here = rsettings.model_copy(update={"mqtt_endpoints": ",".join(str(e) for e in rotated)})
    return FailoverDevice(start_here, "vward-loadgen-0", rsettings.mqtt_loadgen_password)


def test_a_killed_consumers_unacknowledged_readings_reach_the_other_consumer(
    rsettings: Settings, clean_db: psycopg.Connection, tmp_path: Path
) -> None:
    kits = admit_on_cluster(clean_db, rsettings, 4)
    ports = [free_port(), free_port()]
    ingests = [start_ingest(rsettings, i, ports[i], tmp_path / f"ingest-{i}.log") for i in range(2)]
    try:
        wait_until(lambda: all(_metric(p, CONNECTED) == 1 for p in ports), "both consumers up", 120)
        device = _loadgen(rsettings)
        with writer_held(rsettings):  # nothing commits, so nothing is acknowledged
            device.publish(numbered_messages(kits, 0, 400))
            device.wait_all_acked()
            wait_until(lambda: _ready(rsettings) == 0, "every message delivered to a consumer")
            wait_until(lambda: _metric(ports[0], RECEIVED) > 0, "the victim to hold deliveries")
            held_by_victim = metric(ports[0], RECEIVED)
            os.kill(ingests[0].pid, signal.SIGKILL)
            ingests[0].wait(30)
        # Released: the victim's deliveries went back to the queue and on to the survivor.
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 400, "all 400 stored", 120)
        stop_ingest(ingests[1])
        assert _ready(rsettings) == 0  # every delivery acknowledged once the survivor stopped cleanly
        assert held_by_victim > 0
        _assert_exact(clean_db, device.acked)
        device.close()
    finally:
        for ingest in ingests:
            if ingest.poll() is None:
                ingest.kill()
                ingest.wait(30)


def _publish_through_a_fault(
    rsettings: Settings, clean_db: psycopg.Connection, cluster: EphemeralCluster, *, device_node: int, victim: int
) -> FailoverDevice:
    """Publishes 1,200 messages in a stream, kills node ``victim`` after 300 were PUBACKed, and waits for all."""
    kits = admit_on_cluster(clean_db, rsettings, 4)
    device = _loadgen(rsettings, device_node)
    messages = numbered_messages(kits, 0, 1200)
    with consumer(rsettings):
        sent = threading.Event()

        def stream() -> None:
            for i in range(0, len(messages), 50):
                device.publish(messages[i : i + 50])
                wait_until(lambda: device.unacked < 200, "room in flight", 120)
            sent.set()

        publisher = threading.Thread(target=stream, daemon=True)
        publisher.start()
        wait_until(lambda: device.acked >= 300, "300 PUBACKed before the fault")
        rabbitmq_cluster.kill_node(cluster.cluster, victim)
        assert sent.wait(180), "the stream did not finish"
        device.wait_all_acked(180)
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") >= device.acked, "all stored", 180)
    return device


def test_killing_the_node_the_devices_are_on_loses_nothing_they_were_acknowledged_for(
    rsettings: Settings, clean_db: psycopg.Connection, cluster: EphemeralCluster
) -> None:
    device = _publish_through_a_fault(rsettings, clean_db, cluster, device_node=0, victim=0)
    assert device.disconnects >= 1  # it moved to another node
    assert device.acked == 1200
    _assert_exact(clean_db, 1200)
    device.close()


def test_killing_the_quorum_queues_leader_loses_nothing(
    rsettings: Settings, clean_db: psycopg.Connection, cluster: EphemeralCluster
) -> None:
    leader = cluster.management.check_readings_queue(rsettings.amqp_queue)["leader"]
    victim = next(i for i in range(rabbitmq_cluster.NODES) if cluster.cluster.node_name(i) == leader)
    device = _publish_through_a_fault(
        rsettings, clean_db, cluster, device_node=(victim + 1) % rabbitmq_cluster.NODES, victim=victim
    )
    assert device.acked == 1200
    _assert_exact(clean_db, 1200)
    new_leader = cluster.management.check_readings_queue(rsettings.amqp_queue)["leader"]
    assert new_leader != leader
    device.close()


def test_readings_queued_before_a_whole_cluster_restart_are_all_stored_after_it(
    rsettings: Settings, clean_db: psycopg.Connection, cluster: EphemeralCluster
) -> None:
    kits = admit_on_cluster(clean_db, rsettings, 4)
    device = _loadgen(rsettings)
    device.publish(numbered_messages(kits, 0, 500))
    device.wait_all_acked()
    device.close()
    rabbitmq_cluster.stop(cluster.cluster)
    rabbitmq_cluster.start(
        cluster.cluster, admin_user="vward-broker-admin", admin_password=rsettings.mqtt_admin_password
    )
    with consumer(rsettings):
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 500, "all 500 stored", 180)
        wait_until(lambda: _ready(rsettings) == 0, "the queue drained")
    _assert_exact(clean_db, 500)


def test_puback_means_the_quorum_queue_has_it_even_when_the_node_that_sent_it_dies_at_once(
    rsettings: Settings, clean_db: psycopg.Connection, cluster: EphemeralCluster
) -> None:
    """What PUBACK means on RabbitMQ, measured: the device is on the queue leader's node, and that node is
    killed the moment the last PUBACK is in; every PUBACKed message is then consumed from the other two."""
    leader = cluster.management.check_readings_queue(rsettings.amqp_queue)["leader"]
    victim = next(i for i in range(rabbitmq_cluster.NODES) if cluster.cluster.node_name(i) == leader)
    kits = admit_on_cluster(clean_db, rsettings, 4)
    device = _loadgen(rsettings, victim)
    device.publish(numbered_messages(kits, 0, 2000))
    device.wait_all_acked()
    rabbitmq_cluster.kill_node(cluster.cluster, victim)
    endpoints = rsettings.amqp_endpoint_list()
    survivors = rsettings.model_copy(
        update={"amqp_endpoints": ",".join(str(e) for i, e in enumerate(endpoints) if i != victim)}
    )
    with consumer(survivors):
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 2000, "all 2,000 stored", 180)
        wait_until(lambda: _ready(survivors) == 0, "the queue drained")
    assert device.acked == 2000
    _assert_exact(clean_db, 2000)
    device.close()
