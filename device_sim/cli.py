"""``vward simulate``: simulated home devices for demos and load tests."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta

import click

from device_sim.errors import SimulatorError
from device_sim.fleet import FleetDevice, load_fleet, synthetic_fleet
from device_sim.kit import KitConfig
from device_sim.runner import PER_DEVICE_MAX, SimStats, run_simulation
from vward import db
from vward.config import Settings, get_settings


def _db_fleet(settings: Settings) -> list[FleetDevice]:
    with db.connect(settings) as conn:
        return load_fleet(conn)


@click.command()
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second (60: a simulated minute each second). Readings keep real timestamps.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Messages per second across the fleet, replacing the devices' own schedules (load tests).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds (default: until SIGINT/SIGTERM).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--deteriorate-fraction",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of patients already deteriorating at the start (demos).",
)
@click.option(
    "--episode-rate",
    type=click.FloatRange(min=0),
    default=0.005,
    show_default=True,
    help="Chance per patient per simulated hour that a deterioration starts.",
)
@click.option(
    "--synthetic",
    type=click.IntRange(min=1),
    default=None,
    help="Drive N made-up devices instead of the database's (ingest quarantines them unless "
    "registered; implies --loadgen).",
)
@click.option(
    "--per-device-connections/--loadgen",
    "per_device",
    default=None,
    help=f"One connection per device with its own credentials (default up to {PER_DEVICE_MAX} "
    "devices), or a few vward-loadgen connections.",
)
@click.option(
    "--connections", type=click.IntRange(min=1), default=4, show_default=True, help="Connections in --loadgen mode."
)
@click.option(
    "--spot-check-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=240.0,
    show_default=True,
    help="Simulated minutes between spot checks (oximeter, BP, thermometer, check-in).",
)
@click.option(
    "--wearable-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Simulated seconds between wearable samples.",
)
@click.option(
    "--wearable-batch",
    type=click.IntRange(min=1, max=3600),
    default=5,
    show_default=True,
    help="Wearable samples per message.",
)
@click.option(
    "--offline-chance",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Chance per sample that a device drops offline and buffers.",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds between progress lines on stderr.",
)
def simulate(
    speed: float,
    rate: float | None,
    duration: float | None,
    seed: int,
    deteriorate_fraction: float,
    episode_rate: float,
    synthetic: int | None,
    per_device: bool | None,
    connections: int,
    spot_check_minutes: float,
    wearable_seconds: float,
    wearable_batch: int,
    offline_chance: float,
    progress_every: float,
) -> None:
    """Simulated home devices publishing readings over MQTT."""
    settings = get_settings()
    if synthetic is not None and per_device:
        raise click.UsageError("--synthetic devices have no broker credentials: use --loadgen")
    kit = KitConfig(
        spot_check_interval=timedelta(minutes=spot_check_minutes),
        wearable_sample_interval=timedelta(seconds=wearable_seconds),
        wearable_samples_per_message=wearable_batch,
        offline_chance=offline_chance,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def progress(stats: SimStats) -> None:
        click.echo(stats.line(), err=True)

    fleet = synthetic_fleet(synthetic) if synthetic is not None else (lambda: _db_fleet(settings))
    try:
        totals = run_simulation(
            settings,
            fleet,
            speed=speed,
            rate=rate,
            duration_s=duration,
            rng_seed=seed,
            stop_event=stop,
            kit=kit,
            deteriorate_fraction=deteriorate_fraction,
            episode_rate_per_hour=episode_rate,
            per_device_connections=False if synthetic is not None else per_device,
            loadgen_connections=connections,
            progress_every_s=progress_every,
            on_progress=progress,
        )
    except SimulatorError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("totals: " + totals.line(), err=True)
