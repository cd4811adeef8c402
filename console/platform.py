"""``vward up`` / ``vward down``: the whole local platform on one machine, started idempotently.

Servers (PostgreSQL, Redis, Mosquitto) run from Debian's packages with their data under ``state_dir``;
the vward processes run under a detached supervisor (``vward.supervisor``) that restarts any that dies,
with pid files and logs under ``state_dir/run`` and ``state_dir/logs``. Running ``up`` again starts only
what is not running (a new supervisor adopts processes a killed one left running).
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
from vward import db, pidfiles, services, supervisor
from vward.config import Settings, broker_service_accounts
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
_START_TIMEOUT_S = 60.0


def start_services(settings: Settings) -> None:
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
        services.sync_device_credentials(conn, settings.state_dir.resolve(), broker_service_accounts(settings))
        return db.storage_mode(conn), admitted


def _spec(vward: str) -> dict[str, list[str]]:
    return {name: [vward, *args] for name, args in PROCESSES.items()}


def start_processes(settings: Settings, *, env: Mapping[str, str] | None = None) -> None:
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
            [sys.executable, "-m", "vward.supervisor", str(base), json.dumps(_spec(vward))],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**(os.environ if env is None else env), "VWARD_STATE_DIR": str(base)},
        )
    detached = proc.wait(timeout=_START_TIMEOUT_S) == 0  # the supervisor forks itself away and returns
    deadline = time.monotonic() + _START_TIMEOUT_S
    while any(pidfiles.read_live(pidfiles.pidfile(base, name)) is None for name in PROCESSES):
        if not detached or time.monotonic() > deadline:
            raise click.ClickException(f"the supervisor did not start the processes; see {base / 'logs'}")
        time.sleep(0.1)


def stop_processes(settings: Settings) -> None:
    """Stops the supervisor (which stops its processes), then any vward process left with a pid file:
    an ingest an operator started with another ``--index``, or processes of a supervisor that was killed."""
    base = settings.state_dir.resolve()
    running = pidfiles.all_live(base)
    if (pid := running.pop(supervisor.SUPERVISOR, None)) is not None:
        supervisor.stop_process(pid, timeout=supervisor.STOP_TIMEOUT_S * (len(PROCESSES) + 1))
    for name, pid in running.items():
        if pidfiles.read_live(pidfiles.pidfile(base, name)) == pid:
            supervisor.stop_process(pid)
    for path in pidfiles.run_dir(base).glob("*.pid"):
        path.unlink(missing_ok=True)


def stop_services(settings: Settings) -> None:
    base = settings.state_dir.resolve()
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
def up_command(occupancy: float) -> None:
    """Start the whole local platform with simulated patients and print the URL."""
    from vward.config import get_settings

    settings = get_settings()
    start_services(settings)
    mode, admitted = prepare_database(settings, occupancy=occupancy)
    ensure_vapid_key(vapid_key_path(settings), rotate=False)
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
