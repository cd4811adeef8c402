"""``vward``: one command line for every process of the platform and its chores."""

from __future__ import annotations

import logging

import click

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


def main() -> None:
    cli()
