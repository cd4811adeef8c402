"""``vward``: one command line for every process of the platform and its chores.

Each subcommand lives in its own package and is imported only when it runs: the packages pull in numba,
FastAPI, paho and psycopg, which took ``vward --help`` to 1.5 s when they were imported up front. The
one-line help shown by ``vward --help`` is therefore written here, beside where each command is found.
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime

import click

# name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "down": ("console.platform", "down_command", "Stop everything `vward up` started (data is kept)."),
    "hub": ("alerting.commands", "hub_command", "Run the alerting hub: clocks, missed readings, outbox and push."),
    "ingest": ("ingest.cli", "ingest_command", "Subscribe to device readings, validate, score, store; ack."),
    "migrate": ("console.cli", "migrate", "Apply pending database migrations."),
    "score": ("alerting.cli", "score_command", "Print a CSV of observation sets with their NEWS2 scores."),
    "setup": ("console.setup_commands", "setup_group", "First-run chores: wards, the first admin, broker files."),
    "simulate": ("device_sim.cli", "simulate", "Simulated home devices publishing readings over MQTT."),
    "up": ("console.platform", "up_command", "Start the whole local platform with simulated patients."),
    "vapid-keys": ("alerting.commands", "vapid_keys_command", "Create the VAPID key pair for web push."),
    "web": ("clinician_ui.cli", "web", "Run the clinician web UI (alert hub, beds, patients, admin)."),
}


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use; listing them imports nothing."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attribute, _ = _COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, _, help_) in sorted(_COMMANDS.items())])


@click.group(cls=_LazyGroup)
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
def cli(log_level: str) -> None:
    """Virtual ward remote monitoring."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")


@click.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from vward import db
    from vward.config import get_settings

    settings = get_settings()
    applied = db.migrate(settings)
    with db.connect(settings) as conn:
        db.maintain_readings(conn, settings, now=datetime.now(UTC))
        mode = db.storage_mode(conn)
    click.echo(f"applied {len(applied)} migration(s); readings storage: {mode}")


def main() -> None:
    cli()
