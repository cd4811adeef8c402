"""``vward``: one command line for every process of the platform and its chores."""

from __future__ import annotations

import logging

import click

from alerting.cli import score_command
from alerting.commands import hub_command, vapid_keys_command
from clinician_ui.cli import web as web_command
from console.platform import down_command, up_command
from console.setup_commands import setup_group
from device_sim.cli import simulate
from ingest.cli import ingest_command
from vward import db
from vward.config import get_settings


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
def cli(log_level: str) -> None:
    """Virtual ward remote monitoring."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")


@cli.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = get_settings()
    applied = db.migrate(settings)
    with db.connect(settings) as conn:
        db.maintain_readings(conn, settings)
        mode = db.storage_mode(conn)
    click.echo(f"applied {len(applied)} migration(s); readings storage: {mode}")


cli.add_command(up_command)
cli.add_command(setup_group)
cli.add_command(down_command)
cli.add_command(ingest_command)


cli.add_command(hub_command)
cli.add_command(score_command)
cli.add_command(vapid_keys_command)
cli.add_command(simulate)
cli.add_command(web_command)


def main() -> None:
    cli()
