"""``bench.ingest``'s RabbitMQ stage: a three-node cluster, 1, 2 and 4 consumers in one run, with CPU shares.

    python -m bench.ingest --broker rabbitmq [--messages 100000]

For each number of ``vward ingest`` consumers the quorum queue is pre-loaded through the cluster's MQTT
listeners (the load generator on every node, waiting for every PUBACK), then the consumers start and the
stage times the drain to committed rows and checks that exactly the published readings were stored.
Each component's CPU share over the drain (CPU seconds / wall seconds, from ``/proc``: 1.0 = one core
busy) shows where the time goes: on this two-core machine the three nodes, PostgreSQL and the consumers
share two cores, so the scaling itself cannot show here; the shares say what more cores would relieve.
The pre-load's rate and the nodes' CPU share while taking it are printed too: what MQTT in, quorum
replication and the confirms cost the cluster per message.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import click
import paho.mqtt.client as mqtt
import psycopg

from bench import _drain as drain
from vward import db, mqtt_auth, mqtt_client, rabbitmq_cluster, services
from vward.config import Settings
from vward.ephemeral import EphemeralCluster, ephemeral_cluster, ephemeral_services, free_port, settings_env
from vward.seed import admit_demo_patient, device_id, seed_demo_users, seed_wards

PATIENTS = 236
CONSUMERS = (1, 2, 4)
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pids: Iterable[int]) -> list[int]:
    """The given processes' direct children (ingest's writer; PostgreSQL's backends)."""
    parents, found = set(pids), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid in parents:
                found.append(int(entry.name))
    return found


def _nodes(cluster: EphemeralCluster) -> dict[str, list[int]]:
    return {f"rabbitmq-{i}": [pid] for i in range(3) if (pid := rabbitmq_cluster.node_pid(cluster.cluster, i))}


def _components(base: Path, cluster: EphemeralCluster, ingests: list[int]) -> dict[str, list[int]]:
    postmaster = int((base / "postgres" / "postmaster.pid").read_text().split()[0])
    return {
        "ingest": ingests + _children(ingests),
        **_nodes(cluster),
        "postgres": [postmaster, *_children([postmaster])],
    }


def _ticks(components: dict[str, list[int]]) -> dict[str, int]:
    return {name: sum(_cpu_ticks(pid) for pid in pids) for name, pids in components.items()}


def _shares(before: dict[str, int], after: dict[str, int], wall: float) -> str:
    """Each component's CPU seconds per wall second between two ``_ticks`` readings."""
    return ", ".join(f"{k} {(after[k] - before.get(k, 0)) / _TICKS / wall:.2f}" for k in after)


def _publish(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    """Through every node's MQTT listener at once (one load-generator account each), every PUBACK awaited."""
    clients = []
    for i, endpoint in enumerate(settings.mqtt_endpoint_list()):
        name = mqtt_auth.loadgen_accounts()[i]
        client = mqtt_client.new_client(
            settings, client_id=name, username=name, password=settings.mqtt_loadgen_password
        )
        client.max_inflight_messages_set(1000)
        client.connect(endpoint.host, endpoint.port, 30)
        client.loop_start()
        clients.append(client)
    for start in range(0, len(messages), 15_000):  # paho's 16-bit packet ids must not wrap
        infos: list[mqtt.MQTTMessageInfo] = [
            clients[i % len(clients)].publish(topic, payload, qos=1)
            for i, (topic, payload) in enumerate(messages[start : start + 15_000], start)
        ]
        for info in infos:
            info.wait_for_publish(300)
    for client in clients:
        client.disconnect()
        client.loop_stop()


def _consumer(settings: Settings, index: int) -> subprocess.Popen[bytes]:
    port = free_port()
    env = {**settings_env(settings), "VWARD_INGEST_METRICS_PORT": str(port - index)}
    proc = subprocess.Popen([drain.VWARD, "--log-level", "WARNING", "ingest", "--index", str(index)], env=env)
    drain.METRICS_PORTS[proc.pid] = port
    return proc


def run(messages: int) -> None:
    """Runs the 1, 2 and 4 consumer stages and prints readings/s, ratios and CPU shares."""
    with ephemeral_services(prefix="vward-bench-") as env:
        cluster_base = Path(tempfile.mkdtemp(prefix="vward-bench-rabbit-"))
        with ephemeral_cluster(env.settings, cluster_base / "rabbitmq") as cluster:
            settings = cluster.settings
            with psycopg.connect(settings.database_url) as conn:
                seed_demo_users(conn)
                seed_wards(conn)
                ward = conn.execute("SELECT id FROM wards ORDER BY id LIMIT 1").fetchone()
                assert ward is not None
                now, rng = datetime.now(UTC), random.Random(1)
                admissions = [
                    admit_demo_patient(
                        conn,
                        ward[0],
                        device_secret=settings.sim_device_secret,
                        rng=rng,
                        now=now,  # type: ignore[index]
                        admitted_at=now - timedelta(days=3),
                    )
                    for _ in range(PATIENTS)
                ]
                db.maintain_readings(conn, settings, first_day=(now - timedelta(days=3)).date())
                conn.commit()
                services.sync_rabbitmq_devices(conn, settings)
            devices = [device_id(kind, a) for a in admissions for kind in ("wearable", "pulse_oximeter")]
            batch = drain.messages(devices, messages, now - timedelta(days=2), 1)
            rates: dict[int, float] = {}
            for n in CONSUMERS:
                click.echo(f"stage: {n} consumer(s) ...", err=True)
                drain.truncate(settings)
                publishing = {"load generator": [os.getpid()], **_nodes(cluster)}
                before, started = _ticks(publishing), time.monotonic()
                _publish(settings, batch)
                wall = time.monotonic() - started
                click.echo(
                    f"  in: {messages / wall:,.0f} msg/s PUBACKed by the cluster (the Python load generator bounds"
                    f" it); CPU {_shares(before, _ticks(publishing), wall)}"
                )
                procs = [_consumer(settings, i) for i in range(n)]
                try:
                    stored_now = partial(drain.stored_by_ingest, procs)
                    while not stored_now():  # from the first commit: the writers exist, start-up is over
                        time.sleep(0.02)
                    components = _components(env.base, cluster, [p.pid for p in procs])
                    before, started = _ticks(components), time.monotonic()
                    rates[n] = drain.drain_rate(settings, messages, procs, stored_now)
                    wall = time.monotonic() - started
                    components = _components(env.base, cluster, [p.pid for p in procs])
                    after = _ticks(components)
                finally:
                    drain.stop(procs)
                time.sleep(0.5)
                drain.check_exact(settings, messages)
                click.echo(
                    f"{n} consumer(s): {rates[n]:,.0f} readings/s ({rates[n] / rates[1]:.2f}x);"
                    f" CPU {_shares(before, after, wall)}"
                )
            click.echo(f"\n{messages:,} messages per stage, 3 RabbitMQ nodes, {os.cpu_count()} cores")
            for n in CONSUMERS:
                click.echo(f"  {n} consumer(s): {rates[n]:>9,.0f} readings/s  {rates[n] / rates[1]:.2f}x")
