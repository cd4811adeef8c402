"""Click commands of the alerting package's processes: ``vward hub`` and ``vward vapid-keys``."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click
import psycopg
import redis

from alerting.errors import VapidKeyMissing
from alerting.hub import Hub
from alerting.push import ensure_vapid_key, load_vapid_key, public_key_b64, vapid_key_path
from vward.config import get_settings

log = logging.getLogger(__name__)


@click.command("hub")
def hub_command() -> None:
    """Run the alerting hub: escalation clocks, missed readings, outbox sweep and web push."""
    settings = get_settings()
    try:
        vapid = load_vapid_key(vapid_key_path(settings))
    except VapidKeyMissing as exc:
        log.warning("%s; running without web push", exc)
        vapid = None
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("hub: %s received, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    hub = Hub(settings, conn=conn, redis_client=redis_client, vapid=vapid)
    log.info(
        "hub %s started (group %s, stream %s)",
        settings.hub_consumer_name,
        settings.hub_consumer_group,
        settings.alert_stream,
    )
    try:
        hub.run(stop)
    finally:
        hub.conn.close()
        redis_client.close()
        log.info("hub stopped")


@click.command("vapid-keys")
@click.option(
    "--path",
    "path_",
    type=click.Path(dir_okay=False),
    default=None,
    help="Private key file (default: settings' VAPID key path, or state_dir/vapid_private.pem).",
)
@click.option("--rotate", is_flag=True, help="Replace an existing key (every browser must subscribe again).")
def vapid_keys_command(path_: str | None, rotate: bool) -> None:
    """Create the VAPID key pair for web push (once) and print the public key browsers subscribe with."""
    path = Path(path_) if path_ else vapid_key_path(get_settings())
    created = ensure_vapid_key(path, rotate=rotate)
    click.echo(f"{'wrote' if created else 'kept existing'} VAPID private key {path}", err=True)
    click.echo(public_key_b64(load_vapid_key(path)))
