"""``vward setup ...``: first-run chores of a deployment (``vward up`` does them itself for the local platform).

``deploy/compose.yaml`` runs ``broker-passwords`` before the broker starts (Mosquitto refuses to start
without its password file, and the file must hold the service accounts and every issued device) and
``demo-seed`` under the ``demo`` profile; ``seed-wards`` and ``create-admin`` are the first-run steps of
deploy/README.md. Each is idempotent. In compose the ``mosquitto-reload`` sidecar notices a new password
file and sends the broker SIGHUP.
"""

from __future__ import annotations

import click
import psycopg

from clinician_ui.queries import audit
from vward import db
from vward.config import Settings, broker_service_accounts, get_settings
from vward.passwords import hash_password
from vward.seed import seed_demo_patients, seed_demo_users, seed_wards
from vward.services import write_device_credentials


def _write_broker_passwords(conn: psycopg.Connection, settings: Settings) -> int:
    return write_device_credentials(conn, settings.state_dir.resolve(), broker_service_accounts(settings))


@click.group("setup")
def setup_group() -> None:
    """First-run chores of a deployment: wards, the first admin, the broker's password file, demo data."""


@setup_group.command("broker-passwords")
def broker_passwords() -> None:
    """Write the broker's password file from the settings and the devices table."""
    settings = get_settings()
    with db.connect(settings) as conn:
        devices = _write_broker_passwords(conn, settings)
    click.echo(f"broker password file written: 2 service accounts, {devices} device(s)")


@setup_group.command("rabbitmq")
def rabbitmq_setup() -> None:
    """RabbitMQ cluster: declare the readings quorum queue on every node and bind it, then the service
    accounts and every issued device (VWARD_BROKER=rabbitmq; run once all nodes have joined)."""
    from vward.mqtt_auth import ADMIN_USERNAME
    from vward.rabbitmq_admin import Management, ManagementError, provision
    from vward.services import sync_rabbitmq_devices

    settings = get_settings()
    management = Management(settings.rabbitmq_management_url_list(), ADMIN_USERNAME, settings.mqtt_admin_password)
    try:
        provision(management, settings)  # the queue first: nothing may be PUBACKed into no queue
    except ManagementError as exc:
        raise click.ClickException(str(exc)) from exc
    with db.connect(settings) as conn:
        sync_rabbitmq_devices(conn, settings)
    click.echo(f"RabbitMQ: queue {settings.amqp_queue} replicated on every node and bound; accounts in place")


@setup_group.command("seed-wards")
def seed_wards_command() -> None:
    """Create the LLR wards (236 beds) where absent; capacities changed since are left alone."""
    with db.connect(get_settings()) as conn:
        seed_wards(conn)
        conn.commit()
    click.echo("LLR wards present")


@setup_group.command("create-admin")
@click.argument("username")
@click.option("--display-name", default="Administrator", show_default=True)
@click.password_option(help="At least 12 characters (prompted for when not given).")
def create_admin(username: str, display_name: str, password: str) -> None:
    """Create the first admin account (every later account is created by an admin in the web app)."""
    if len(password) < 12:
        raise click.BadParameter("use at least 12 characters", param_hint="password")
    with db.connect(get_settings()) as conn:
        row = conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash) VALUES (%s, %s, 'admin', %s)"
            " ON CONFLICT (username) DO NOTHING RETURNING id",
            (username, display_name, hash_password(password)),
        ).fetchone()
        if row is None:
            raise click.ClickException(f"user {username!r} already exists")
        audit.record(
            conn,
            actor_id=None,
            action="user.create",
            entity="user",
            entity_id=row[0],
            detail={"role": "admin", "via": "vward setup create-admin"},
        )
        conn.commit()
    click.echo(f"admin {username!r} created")


@setup_group.command("demo-seed")
@click.option("--occupancy", default=0.8, show_default=True, type=click.FloatRange(0, 1))
def demo_seed(occupancy: float) -> None:
    """Demo clinicians (password vward-demo) and patients with device kits, then the broker's password file."""
    settings = get_settings()
    with db.connect(settings) as conn:
        seed_wards(conn)
        seed_demo_users(conn)
        admitted = seed_demo_patients(
            conn, device_secret=settings.sim_device_secret, occupancy=occupancy, rng_seed=2026
        )
        conn.commit()
        devices = _write_broker_passwords(conn, settings)
    click.echo(f"{admitted} demo patient(s) admitted; broker password file has {devices} device(s)")
