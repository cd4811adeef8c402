"""The RabbitMQ cluster broker: the queue on every node, per-device rights, ingest's refusals, readings stored."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pika
import pika.exceptions
import psycopg
import pytest

from clinician_ui.queries.admin import rotate_device
from ingest.amqp import AmqpIngestWorker, QueueUnavailable
from ingest.metrics import IngestMetrics
from tests.integration.mqtt_helpers import (
    close,
    connect,
    count,
    loadgen_client,
    numbered_messages,
    publish_all,
    wait_until,
)
from tests.integration.rabbit_helpers import admit_on_cluster, cluster_for_module, consumer
from vward import services
from vward.config import Settings
from vward.contract import readings_topic
from vward.ephemeral import EphemeralCluster
from vward.mqtt_auth import demo_device_password

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster(settings: Settings) -> Iterator[EphemeralCluster]:
    with cluster_for_module(settings) as started:
        yield started


@pytest.fixture
def rsettings(cluster: EphemeralCluster) -> Settings:
    """The cluster's settings, its queue emptied of what earlier tests left (their stray publishes)."""
    cluster.management.call("DELETE", f"queues/%2F/{cluster.settings.amqp_queue}/contents")
    return cluster.settings


def test_the_readings_queue_is_a_quorum_queue_replicated_on_all_three_nodes(cluster: EphemeralCluster) -> None:
    queue = cluster.management.check_readings_queue(cluster.settings.amqp_queue)
    assert sorted(queue["members"]) == sorted(cluster.cluster.node_name(i) for i in range(3))
    assert queue["arguments"]["x-queue-type"] == "quorum"


def _device(rsettings: Settings, device: str) -> mqtt.Client:
    client, reason = connect(rsettings, device, demo_device_password(rsettings.sim_device_secret, device))
    assert not reason.is_failure, reason
    return client


def test_a_device_publishing_with_another_devices_routing_key_is_refused_and_disconnected(
    rsettings: Settings, clean_db: psycopg.Connection
) -> None:
    kits = admit_on_cluster(clean_db, rsettings, 2)
    mine, other = str(kits[0]["wearable"]), str(kits[1]["wearable"])
    client = _device(rsettings, mine)
    gone = threading.Event()
    client.on_disconnect = lambda *_: gone.set()
    own = client.publish(readings_topic(mine), b"{}", qos=1)
    own.wait_for_publish(30)
    assert own.is_published()
    foreign = client.publish(readings_topic(other), b"{}", qos=1)
    assert gone.wait(30), "the broker kept the connection of a device publishing as another"
    assert not foreign.is_published()
    client.loop_stop()


def test_anonymous_and_wrong_passwords_are_refused(rsettings: Settings, clean_db: psycopg.Connection) -> None:
    device = str(admit_on_cluster(clean_db, rsettings, 1)[0]["wearable"])
    for username, password in ((None, None), (device, "wrong")):
        client, reason = connect(rsettings, username, password)
        assert reason.is_failure
        close(client)


def test_an_account_without_read_permission_cannot_consume_the_queue(
    rsettings: Settings, clean_db: psycopg.Connection
) -> None:
    device = str(admit_on_cluster(clean_db, rsettings, 1)[0]["wearable"])
    endpoint = rsettings.amqp_endpoint_list()[0]
    for username, password in (
        (device, demo_device_password(rsettings.sim_device_secret, device)),
        ("vward-loadgen-0", rsettings.mqtt_loadgen_password),
    ):
        params = pika.ConnectionParameters(
            endpoint.host, endpoint.port, credentials=pika.PlainCredentials(username, password)
        )
        with pika.BlockingConnection(params) as connection:
            channel = connection.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
                channel.basic_consume(rsettings.amqp_queue, lambda *_: None)
                connection.process_data_events(time_limit=1)
            assert refused.value.reply_code == 403
    # and ingest started under such an account refuses to run, rather than retrying for ever
    device_as_ingest = rsettings.model_copy(
        update={
            "mqtt_ingest_username": device,
            "mqtt_ingest_password": demo_device_password(rsettings.sim_device_secret, device),
        }
    )
    worker = AmqpIngestWorker(device_as_ingest, metrics=IngestMetrics())
    with pytest.raises(QueueUnavailable, match="403"):
        worker.run(threading.Event())


def test_ingest_refuses_to_start_on_a_queue_that_was_never_declared(rsettings: Settings) -> None:
    worker = AmqpIngestWorker(rsettings.model_copy(update={"amqp_queue": "not-declared"}), metrics=IngestMetrics())
    with pytest.raises(QueueUnavailable, match="404"):
        worker.run(threading.Event())


def test_readings_published_over_mqtt_are_stored_by_the_amqp_consumer_and_acknowledged(
    rsettings: Settings, clean_db: psycopg.Connection
) -> None:
    kits = admit_on_cluster(clean_db, rsettings, 3)
    loadgen = loadgen_client(rsettings)
    with consumer(rsettings) as worker:
        publish_all(loadgen, numbered_messages(kits, 0, 300))
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 300, "300 readings stored")
        wait_until(lambda: _queue_depth(rsettings) == 0, "every delivery acknowledged")
        assert worker.metrics.up["broker"]
    close(loadgen)
    assert count(clean_db, "SELECT count(*) FROM quarantine") == 0


def _queue_depth(rsettings: Settings) -> int:
    """Ready plus unacknowledged messages, straight from AMQP (the management API's counts lag)."""
    endpoint = rsettings.amqp_endpoint_list()[0]
    params = pika.ConnectionParameters(
        endpoint.host,
        endpoint.port,
        credentials=pika.PlainCredentials(rsettings.mqtt_ingest_username, rsettings.mqtt_ingest_password),
    )
    with pika.BlockingConnection(params) as connection:
        ok = connection.channel().queue_declare(rsettings.amqp_queue, passive=True)
        ready = int(ok.method.message_count)
    return ready


def test_a_rotated_password_reaches_the_cluster_and_the_old_one_stops_working(
    rsettings: Settings, clean_db: psycopg.Connection
) -> None:
    device = str(admit_on_cluster(clean_db, rsettings, 1)[0]["wearable"])
    old = demo_device_password(rsettings.sim_device_secret, device)
    close(_device(rsettings, device))
    admin = clean_db.execute("SELECT id FROM users WHERE role = 'admin' LIMIT 1").fetchone()
    assert admin is not None
    new = rotate_device(clean_db, device_id=device, actor_id=admin[0])
    services.sync_device_credentials(clean_db, rsettings.state_dir, {}, settings=rsettings)
    client, reason = connect(rsettings, device, old)
    assert reason.is_failure
    close(client)
    client, reason = connect(rsettings, device, new)
    assert not reason.is_failure
    published = client.publish(readings_topic(device), b"{}", qos=1)
    published.wait_for_publish(30)
    assert published.is_published()
    close(client)


def test_devices_and_ingest_reach_the_cluster_over_tls_where_plain_text_gets_no_connack(
    cluster: EphemeralCluster, rsettings: Settings, clean_db: psycopg.Connection
) -> None:
    nodes = cluster.cluster.nodes
    tls = rsettings.model_copy(
        update={
            "mqtt_tls": True,
            "mqtt_tls_ca_file": cluster.cluster.tls.ca,  # the server's certificate and host name are checked
            "mqtt_port": nodes[1].mqtts,
            "mqtt_endpoints": "",
            "amqp_endpoints": cluster.cluster.amqps_endpoints,
            "amqp_tls": True,
        }
    )
    kits = admit_on_cluster(clean_db, rsettings, 1)
    device = _device(tls, str(kits[0]["wearable"]))  # its own account, over TLS
    with consumer(tls):
        publish_all(device, numbered_messages(kits, 0, 20))
        wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings") == 20, "20 readings stored over TLS")
    close(device)

    with socket.create_connection(("127.0.0.1", nodes[1].mqtts), timeout=10) as sock:
        # CONNECT, protocol MQTT level 4, clean session, no credentials, keep-alive 30, client id "x".
        sock.sendall(bytes([0x10, 13, 0, 4, *b"MQTT", 4, 2, 0, 30, 0, 1, *b"x"]))
        try:
            answer = sock.recv(16)
        except OSError:  # reset by the TLS listener
            answer = b""
    assert not answer.startswith(b"\x20"), "a plain-text client got a CONNACK from the TLS listener"
