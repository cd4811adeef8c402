"""``vward ingest``: one ingest process; run several with different ``--index`` to share the load."""

from __future__ import annotations

import logging
import signal
import threading

import click
import psycopg

from ingest import metrics as metrics_mod
from ingest.amqp import AmqpIngestWorker, QueueUnavailable
from ingest.worker import IngestWorker, ingest_username
from vward import db, pidfiles
from vward.config import get_settings
from vward.mqtt_auth import INGEST_ACCOUNTS
from vward.sd_notify import Notifier

log = logging.getLogger(__name__)


@click.command("ingest")
@click.option(
    "--index",
    default=0,
    show_default=True,
    type=click.IntRange(0, INGEST_ACCOUNTS - 1),
    help="Process number: fixes the broker account, client id and session, and offsets the metrics port.",
)
@click.option("--leave", is_flag=True, help="On exit, unsubscribe and drain (scaling down for good).")
def ingest_command(index: int, leave: bool) -> None:
    """Subscribe to device readings, validate, score, store; ack after commit."""
    settings = get_settings()
    pidfiles.register_self(settings.state_dir, f"ingest-{index}")  # so `vward down` stops it, whoever started it
    try:
        with db.connect(settings) as conn:
            log.info("readings storage: %s", db.storage_mode(conn))
    except psycopg.OperationalError as exc:  # transient: the writer retries until the database is back
        log.warning("database unavailable at start (%s); starting anyway", exc)
    client_id = ingest_username(settings, index)
    metrics = metrics_mod.IngestMetrics()
    if settings.ingest_metrics_port:
        metrics_mod.serve(metrics, settings.ingest_metrics_host, settings.ingest_metrics_port + index)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker: IngestWorker | AmqpIngestWorker
    if settings.broker == "rabbitmq":  # competing consumers of the quorum queue: the index names only the process
        worker = AmqpIngestWorker(settings, metrics=metrics, index=index)
    else:
        worker = IngestWorker(settings, metrics=metrics, index=index)
    # Under systemd (deploy/systemd/vward-ingest@.service, Type=notify): ready once set up (the broker's
    # and the database's state show on /healthz, not as a failed start), and a watchdog ping while the
    # process is scheduled, so a wedged process is killed and restarted.
    notifier = Notifier.from_env()
    notifier.start_watchdog(lambda: True, stop)
    notifier.ready()
    try:
        if isinstance(worker, AmqpIngestWorker):
            worker.run(stop)
        else:
            worker.run(stop, leave=leave)
    except QueueUnavailable as exc:  # a setup error, not a transient fault: say so and let the operator fix it
        raise click.ClickException(f"RabbitMQ: {exc}") from exc
    finally:
        notifier.stopping()
    log.info("ingest %s stopped cleanly", client_id)
