"""``vward up`` / ``vward down``: the whole local platform on one machine, started idempotently.

Servers (PostgreSQL, Redis, Mosquitto) run from Debian's packages with their data under ``state_dir``;
the vward processes run under a detached supervisor (``vward.supervisor``) that restarts any that dies,
with pid files and logs under ``state_dir/run`` and ``state_dir/logs``. Running ``up`` again starts only
what is not running (a new supervisor adopts processes a killed one left running).

``vward up --cluster`` puts the readings on a local three-node RabbitMQ cluster instead of Mosquitto
(``vward.rabbitmq_cluster``), with two ingest processes consuming its quorum queue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import click

from alerting.push import ensure_vapid_key, vapid_key_path
from device_sim.history import backfill_history
from vward import db, mqtt_auth, pidfiles, rabbitmq_cluster, services, supervisor
from vward.config import Settings, broker_service_accounts
from vward.rabbitmq_admin import provision
from vward.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo_patients, seed_demo_users, seed_wards

# name -> vward subcommand arguments, in start order (stopped in reverse).
PROCESSES: dict[str, list[str]] = {
    "ingest-0": ["ingest", "--index", "0"],
    "hub": ["hub"],
    "web": ["web"],
    # Demo: 30x physiology so episodes unfold in minutes; 5% of patients start deteriorating; each device
    # connects with its own credentials like a real one.
    "simulator": ["simulate", "--speed", "30", "--deteriorate-fraction", "0.05", "--per-device-connections"],
}
# With --cluster: two competing consumers of the quorum queue.
CLUSTER_PROCESSES: dict[str, list[str]] = {
    "ingest-0": ["ingest", "--index", "0"],
    "ingest-1": ["ingest", "--index", "1"],
    **{name: args for name, args in PROCESSES.items() if not name.startswith("ingest")},
}
_START_TIMEOUT_S = 60.0


def start_cluster(settings: Settings) -> tuple[Settings, rabbitmq_cluster.Cluster]:
    """Starts (or finds running) the local three-node cluster, declares its queue and service accounts
    before any device account exists, and returns the settings that point every process at it."""
    base, first = settings.state_dir.resolve() / "rabbitmq", settings.local_cluster_port
    tls_port = settings.mqtt_tls_port
    ports = [
        rabbitmq_cluster.NodePorts(
            amqp=first + 10 * i,
            mqtt=settings.mqtt_port + i,
            http=first + 1 + 10 * i,
            dist=first + 2 + 10 * i,
            mqtts=tls_port + i if tls_port else 0,
            amqps=first + 3 + 10 * i,
        )
        for i in range(rabbitmq_cluster.NODES)
    ]
    cluster = rabbitmq_cluster.plan(base, ports, first + 28)
    admin = {"admin_user": mqtt_auth.ADMIN_USERNAME, "admin_password": settings.mqtt_admin_password}
    try:
        management = rabbitmq_cluster.start(cluster, **admin)
    except rabbitmq_cluster.ClusterError as exc:
        raise click.ClickException(str(exc)) from exc
    clustered = settings.model_copy(
        update={
            "broker": "rabbitmq",
            "mqtt_port": cluster.nodes[0].mqtt,
            "mqtt_endpoints": cluster.mqtt_endpoints,
            "amqp_endpoints": cluster.amqp_endpoints,
            "rabbitmq_management_urls": cluster.management_urls,
        }
    )
    provision(management, clustered)
    return clustered, cluster


def cluster_env(settings: Settings) -> dict[str, str]:
    """The processes' environment for the cluster: this one's, pointed at it."""
    return {
        **os.environ,
        "VWARD_BROKER": settings.broker,
        "VWARD_MQTT_PORT": str(settings.mqtt_port),
        "VWARD_MQTT_ENDPOINTS": settings.mqtt_endpoints,
        "VWARD_AMQP_ENDPOINTS": settings.amqp_endpoints,
        "VWARD_RABBITMQ_MANAGEMENT_URLS": settings.rabbitmq_management_urls,
    }


def start_services(settings: Settings, *, mosquitto: bool = True) -> None:
    base = settings.state_dir.resolve()
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    pg = urlsplit(settings.database_url)
    services.start_postgres(
        base,
        pg.port or 5432,
        user=pg.username or "vward",
        password=pg.password or "",
        database=pg.path.lstrip("/"),
        use_timescaledb=settings.timescaledb == "auto",
    )
    services.start_redis(base, urlsplit(settings.redis_url).port or 6379)
    if not mosquitto:
        return
    services.start_mosquitto(
        base,
        settings.mqtt_port,
        service_accounts=broker_service_accounts(settings),
        device_password_hashes={},
        tls_port=settings.mqtt_tls_port,
    )


def prepare_database(settings: Settings, *, occupancy: float) -> tuple[str, int]:
    """Migrates, seeds wards, demo users and patients, and gives the broker the devices' credentials."""
    db.migrate(settings)
    with db.connect(settings) as conn:
        db.maintain_readings(conn, settings, first_day=date.today() - timedelta(days=90))
        seed_wards(conn)
        seed_demo_users(conn)
        admitted = seed_demo_patients(
            conn, device_secret=settings.sim_device_secret, occupancy=occupancy, rng_seed=2026
        )
        conn.commit()
        backfill_history(conn, settings, now=datetime.now(UTC))
        conn.commit()
        services.sync_device_credentials(
            conn, settings.state_dir.resolve(), broker_service_accounts(settings), settings=settings
        )
        return db.storage_mode(conn), admitted


def _spec(vward: str, processes: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {name: [vward, *args] for name, args in processes.items()}


def start_processes(
    settings: Settings, *, env: Mapping[str, str] | None = None, processes: Mapping[str, list[str]] = PROCESSES
) -> None:
    """Starts the supervisor, which starts (and keeps running) every process; returns once each has a pid.

    Idempotent: with a supervisor already running nothing is started. ``env`` is the processes'
    environment (default: this one's), with the state directory set.
    """
    base = settings.state_dir.resolve()
    if pidfiles.read_live(pidfiles.pidfile(base, supervisor.SUPERVISOR)) is not None:
        return
    (base / "logs").mkdir(parents=True, exist_ok=True)
    vward = str(Path(sys.executable).with_name("vward"))
    with (base / "logs" / "supervisor.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vward.supervisor", str(base), json.dumps(_spec(vward, processes))],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**(os.environ if env is None else env), "VWARD_STATE_DIR": str(base)},
        )
    detached = proc.wait(timeout=_START_TIMEOUT_S) == 0  # the supervisor forks itself away and returns
    deadline = time.monotonic() + _START_TIMEOUT_S
    while any(pidfiles.read_live(pidfiles.pidfile(base, name)) is None for name in processes):
        if not detached or time.monotonic() > deadline:
            raise click.ClickException(f"the supervisor did not start the processes; see {base / 'logs'}")
        time.sleep(0.1)


def stop_processes(settings: Settings) -> None:
    """Stops the supervisor (which stops its processes), then any vward process left with a pid file:
    an ingest an operator started with another ``--index``, or processes of a supervisor that was killed."""
    base = settings.state_dir.resolve()
    running = pidfiles.all_live(base)
    if (pid := running.pop(supervisor.SUPERVISOR, None)) is not None:
        supervisor.stop_process(pid, timeout=supervisor.STOP_TIMEOUT_S * (len(CLUSTER_PROCESSES) + 1))
    for name, pid in running.items():
        if pidfiles.read_live(pidfiles.pidfile(base, name)) == pid:
            supervisor.stop_process(pid)
    for path in pidfiles.run_dir(base).glob("*.pid"):
        path.unlink(missing_ok=True)


def stop_services(settings: Settings) -> None:
    base = settings.state_dir.resolve()
    if (cluster := rabbitmq_cluster.Cluster.load(base / "rabbitmq")) is not None:
        rabbitmq_cluster.stop(cluster)
    services.stop_mosquitto(base)
    services.stop_redis(base)
    services.stop_postgres(base)


@click.command("up")
@click.option(
    "--occupancy",
    default=0.8,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Fill each ward with demo patients to this fraction of its beds.",
)
@click.option(
    "--cluster",
    is_flag=True,
    help="Readings through a local three-node RabbitMQ cluster (quorum queue, two ingest consumers).",
)
def up_command(occupancy: float, cluster: bool) -> None:
    """Start the whole local platform with simulated patients and print the URL."""
    from vward.config import get_settings

    settings = get_settings()
    start_services(settings, mosquitto=not cluster)
    local = None
    if cluster:
        settings, local = start_cluster(settings)
    mode, admitted = prepare_database(settings, occupancy=occupancy)
    ensure_vapid_key(vapid_key_path(settings), rotate=False)
    if local is not None:
        start_processes(settings, env=cluster_env(settings), processes=CLUSTER_PROCESSES)
        click.echo(f"RabbitMQ cluster: MQTT {settings.mqtt_endpoints}; AMQP {settings.amqp_endpoints}")
        tls = f"MQTT {local.mqtts_endpoints or 'none'}; AMQP {local.amqps_endpoints}; CA {local.tls.ca}"
        click.echo(f"  over TLS: {tls}")
    else:
        start_processes(settings)
    click.echo(f"\nvward is up (readings storage: {mode}; {admitted} new demo patients admitted).")
    click.echo(f"  Open http://{settings.web_host}:{settings.web_port}/")
    click.echo(f"  Sign in as any of {', '.join(u[0] for u in DEMO_USERS)} with password {DEMO_PASSWORD!r}")
    click.echo(f"  Logs: {settings.state_dir.resolve() / 'logs'}    Stop: scripts/down.sh")
    click.echo("  Every process is supervised: one that dies is restarted (see logs/supervisor.log).")


@click.command("down")
def down_command() -> None:
    """Stop everything `vward up` started, and any ingest started by hand (data is kept)."""
    from vward.config import get_settings

    settings = get_settings()
    stop_processes(settings)
    stop_services(settings)
    click.echo("vward is down.")
