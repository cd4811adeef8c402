"""Ingest throughput, publish to committed row, with every figure measured in the same run.

    python -m bench.ingest [--messages 100000] [--batch-readings 1000000] [--tls]
    python -m bench.ingest --broker rabbitmq [--messages 100000]

Each stage pre-loads the broker: the consumer's persistent session subscribes, goes away, and the
messages are published into its queue; then the consumer starts and the stage times how fast it drains
to committed rows. That measures the consumer, not the Python publisher (which is no faster than the
consumer on this machine). Stages: (a) a bare paho subscriber that only parses JSON (one Python process's
ceiling), (b) the naive design (validate, score and INSERT + COMMIT per message), (c) ``vward ingest``,
(d) two ``vward ingest`` processes on a shared subscription, (e) messages carrying a device's buffered
batch of 60 readings, (f) bytes on disk per million stored readings. Every stage checks that exactly the
published readings were stored, none twice. ``--tls`` runs every stage through the broker's TLS listener
(``vward.mqtt_client``), to price encryption against the same run's plain-text figures.
``--broker rabbitmq`` runs the RabbitMQ stage instead (``bench._ingest_rabbitmq``).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import paho.mqtt.client as mqtt
import psycopg

from bench import _drain as drain
from bench import _ingest_rabbitmq as rabbitmq_stage
from vward import db, mqtt_client, services
from vward.config import Settings, broker_service_accounts
from vward.contract import READINGS_TOPIC_FILTER
from vward.ephemeral import ephemeral_services, free_port, settings_env
from vward.seed import admit_demo_patient, device_id, seed_demo_users, seed_wards

PATIENTS = 236
SHARED = f"$share/ingest/{READINGS_TOPIC_FILTER}"


def _client(settings: Settings, user: str, password: str, client_id: str = "", clean: bool = True) -> mqtt.Client:
    client = mqtt_client.new_client(
        settings, client_id=client_id, username=user, password=password, persistent=not clean
    )
    client.max_inflight_messages_set(2000)
    mqtt_client.connect(client, settings)
    client.loop_start()
    return client


def _prepare_session(settings: Settings, client_id: str, topic: str) -> None:
    """Creates a persistent session subscribed to ``topic`` and leaves, so the broker queues for it."""
    sub = _client(settings, client_id, settings.mqtt_ingest_password, client_id, clean=False)
    sub.subscribe(topic, qos=1)[1]
    time.sleep(0.3)
    sub.disconnect()
    sub.loop_stop()


def _drop_session(settings: Settings, client_id: str) -> None:
    client = _client(settings, client_id, settings.mqtt_ingest_password, client_id, clean=True)
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def _publish(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    pub = _client(settings, "vward-loadgen-0", settings.mqtt_loadgen_password)
    # Waits every 20,000: paho's 16-bit packet ids must not wrap while earlier ones are unacknowledged.
    for start in range(0, len(messages), 20_000):
        infos = [pub.publish(topic, payload, qos=1) for topic, payload in messages[start : start + 20_000]]
        for info in infos:
            info.wait_for_publish(120)
    pub.disconnect()
    pub.loop_stop()


def _count(settings: Settings) -> int:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0


def _checked_rate(
    settings: Settings, expected: int, procs: list[subprocess.Popen[bytes]], stored_now: Callable[[], int]
) -> float:
    rate = drain.drain_rate(settings, expected, procs, stored_now)
    time.sleep(0.5)
    drain.check_exact(settings, expected)
    return rate


def _stored_rate(settings: Settings, expected: int, procs: list[subprocess.Popen[bytes]]) -> float:
    """The naive consumer's rate: its table stays small, so polling count(*) costs little."""
    return _checked_rate(settings, expected, procs, lambda: _count(settings))


def _ingest_rate(settings: Settings, expected: int, procs: list[subprocess.Popen[bytes]]) -> float:
    """vward ingest's rate, from its own stored-readings counter; the table is checked once at the end."""
    return _checked_rate(settings, expected, procs, lambda: drain.stored_by_ingest(procs))


def _reported_rate(settings: Settings, _expected: int, procs: list[subprocess.Popen[bytes]]) -> float:
    """The bare subscriber stores nothing, so it times itself and writes its rate to a file."""
    report = Path(settings.state_dir) / "bare-rate"
    while not report.exists():
        if any(p.poll() is not None for p in procs):
            raise click.ClickException("the bare subscriber exited early")
        time.sleep(0.05)
    return float(report.read_text())


Measure = Callable[[Settings, int, list[subprocess.Popen[bytes]]], float]


def _run_stage(
    settings: Settings,
    client_ids: list[str],
    topic: str,
    messages: list[tuple[str, bytes]],
    expected: int,
    start: Callable[[str], subprocess.Popen[bytes]],
    measure: Measure,
) -> float:
    drain.truncate(settings)
    for client_id in client_ids:
        _prepare_session(settings, client_id, topic)
    _publish(settings, messages)
    procs = [start(client_id) for client_id in client_ids]
    try:
        return measure(settings, expected, procs)
    finally:
        drain.stop(procs)
        for client_id in client_ids:
            _drop_session(settings, client_id)


def _consumer(kind: str, settings: Settings, client_id: str, topic: str, expected: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench._consumers", kind, client_id, topic, str(expected)], env=_env(settings)
    )


def _env(settings: Settings) -> dict[str, str]:
    """``settings_env`` and the TLS settings, which it does not carry."""
    tls = {"VWARD_MQTT_TLS": "true", "VWARD_MQTT_TLS_CA_FILE": str(settings.mqtt_tls_ca_file)}
    return {**settings_env(settings), **(tls if settings.mqtt_tls else {})}


def _ingest(settings: Settings, client_id: str) -> subprocess.Popen[bytes]:
    index, port = int(client_id.rsplit("-", 1)[1]), free_port()
    env = {
        **_env(settings),
        "VWARD_MQTT_CLIENT_ID": client_id,
        "VWARD_MQTT_SHARED_GROUP": "ingest",
        "VWARD_INGEST_METRICS_PORT": str(port - index),
    }  # ingest serves on this + its index
    proc = subprocess.Popen([drain.VWARD, "--log-level", "WARNING", "ingest", "--index", str(index)], env=env)
    drain.METRICS_PORTS[proc.pid] = port
    return proc


def _disk_bytes(settings: Settings) -> tuple[str, int, int | None]:
    """Mode, bytes of the readings table with its indexes, and (TimescaleDB) after compressing every chunk."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE readings")
        mode = db.storage_mode(conn)
        if mode == "timescaledb":
            before = int(conn.execute("SELECT hypertable_size('readings')").fetchone()[0])  # type: ignore[index]
            conn.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('readings') c")
            after = int(conn.execute("SELECT hypertable_size('readings')").fetchone()[0])  # type: ignore[index]
            return mode, before, after
        size = conn.execute(
            "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'readings'::regclass"
        ).fetchone()
        return mode, int(size[0]), None  # type: ignore[index]


@click.command()
@click.option("--messages", default=100_000, show_default=True, help="Messages per single-reading stage.")
@click.option("--naive-messages", default=20_000, show_default=True, help="Messages for the naive stage.")
@click.option("--batch-readings", default=1_000_000, show_default=True, help="Readings in the 60-per-message stage.")
@click.option("--tls", is_flag=True, help="Every MQTT connection through the broker's TLS listener.")
@click.option(
    "--broker",
    type=click.Choice(["mosquitto", "rabbitmq"]),
    default="mosquitto",
    show_default=True,
    help="rabbitmq: the RabbitMQ stage instead (a three-node cluster; 1, 2 and 4 consumers; CPU shares).",
)
def main(messages: int, naive_messages: int, batch_readings: int, tls: bool, broker: str) -> None:
    """Run every stage and print readings/s with ratios."""
    if broker == "rabbitmq":
        rabbitmq_stage.run(messages)
        return
    with ephemeral_services(prefix="vward-bench-") as env:
        settings = env.settings
        if tls:
            settings = settings.model_copy(
                update={
                    "mqtt_port": settings.mqtt_tls_port,
                    "mqtt_tls": True,
                    "mqtt_tls_ca_file": env.base / "mosquitto" / "tls" / "ca.crt",
                }
            )
        with psycopg.connect(settings.database_url) as conn:
            seed_demo_users(conn)
            rng = random.Random(1)
            seed_wards(conn)
            ward = conn.execute("SELECT id FROM wards ORDER BY id LIMIT 1").fetchone()
            now = datetime.now(UTC)
            admissions = [
                admit_demo_patient(
                    conn,
                    ward[0],  # type: ignore[index]
                    device_secret=settings.sim_device_secret,
                    rng=rng,
                    now=now,
                    admitted_at=now - timedelta(days=3),
                )
                for _ in range(PATIENTS)
            ]
            db.maintain_readings(conn, settings, first_day=(now - timedelta(days=3)).date())
            conn.commit()
            services.sync_device_credentials(conn, env.base, broker_service_accounts(settings))
        devices = [device_id(kind, a) for a in admissions for kind in ("wearable", "pulse_oximeter")]
        t0 = now - timedelta(days=2)  # inside ingest's late window
        results: dict[str, float] = {}

        def stage(
            name: str,
            ids: list[str],
            topic: str,
            msgs: list[tuple[str, bytes]],
            expected: int,
            start: Callable[[str], subprocess.Popen[bytes]],
            measure: Measure = _stored_rate,
        ) -> None:
            click.echo(f"stage ({name}) ...", err=True)
            results[name] = _run_stage(settings, ids, topic, msgs, expected, start, measure)

        single = drain.messages(devices, messages, t0, 1)
        stage(
            "a",
            ["vward-ingest-6"],
            READINGS_TOPIC_FILTER,
            single,
            messages,
            lambda cid: _consumer("bare", settings, cid, READINGS_TOPIC_FILTER, messages),
            _reported_rate,
        )
        stage(
            "b",
            ["vward-ingest-7"],
            READINGS_TOPIC_FILTER,
            single[:naive_messages],
            naive_messages,
            lambda cid: _consumer("naive", settings, cid, READINGS_TOPIC_FILTER, naive_messages),
        )
        stage("c", ["vward-ingest-0"], SHARED, single, messages, lambda cid: _ingest(settings, cid), _ingest_rate)
        stage(
            "d",
            ["vward-ingest-0", "vward-ingest-1"],
            SHARED,
            single,
            messages,
            lambda cid: _ingest(settings, cid),
            _ingest_rate,
        )
        batch_readings = batch_readings // 60 * 60
        batched = drain.messages(devices, batch_readings // 60, t0, 60)
        stage(
            "e", ["vward-ingest-0"], SHARED, batched, batch_readings, lambda cid: _ingest(settings, cid), _ingest_rate
        )
        mode, size, compressed = _disk_bytes(settings)

    per_million = size / batch_readings  # bytes per reading = MB per million readings
    click.echo(f"\nvward ingest benchmark ({mode} storage; {PATIENTS} patients; all stages in this run)")
    rows = [
        ("a", "bare paho subscriber, JSON parse only (ceiling)", results["a"], None),
        ("b", "naive: validate + score + INSERT + COMMIT per message", results["b"], None),
        ("c", "vward ingest, 1 process", results["c"], "target >= 6,000/s, >= 70% of (a), >= 2x (b)"),
        ("d", "vward ingest, 2 processes, shared subscription", results["d"], None),
        ("e", "vward ingest, 60 readings per message", results["e"], "target >= 50,000/s"),
    ]
    for key, label, rate, target in rows:
        click.echo(f"  ({key}) {label:<56} {rate:>10,.0f} readings/s  {target or ''}")
    click.echo(
        f"  (c)/(a) = {results['c'] / results['a']:.2f}   (c)/(b) = {results['c'] / results['b']:.1f}x"
        f"   (d)/(c) = {results['d'] / results['c']:.2f}   (e)/(c) = {results['e'] / results['c']:.1f}x"
    )
    click.echo(
        f"  (f) bytes on disk per million readings: {per_million:,.1f} MB"
        f" (table + indexes, uncompressed; target <= 250 MB)"
    )
    if compressed is not None:
        click.echo(f"      compressed (TimescaleDB): {compressed / batch_readings:,.1f} MB per million readings")
    click.echo("  nothing lost or duplicated in any stage")


if __name__ == "__main__":
    main()
