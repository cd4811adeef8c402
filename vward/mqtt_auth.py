"""The broker's trust model: who may connect, under which client id, and publish or subscribe to what.

Measured on Mosquitto 2.0.11 (deploy/mosquitto/README.md): an ``acl_file`` grants every SUBSCRIBE, so any
account could join ingest's ``$share`` group and eat readings; client ids are not bound to accounts. So:

- **Authentication**: the password file. Device passwords are stored in PostgreSQL as Mosquitto hashes
  (PBKDF2-SHA512, the ``$7$`` format of ``mosquitto_passwd``), never in plain text; the file is written
  from them and the broker re-reads it on SIGHUP, so a rotated password works at once.
- **Client id = username** (``use_username_as_clientid``): no account can take another's session. Hence
  one account per ingest index (``vward-ingest-N``) and per load-generator connection.
- **Authorisation**: the dynamic-security plugin, whose default denies every publish and subscribe. Each
  device has a role allowing one publish topic, its own; ingest may subscribe to the readings filter;
  nothing else may subscribe at all. A device issued at run time is added with a ``$CONTROL`` command
  (no password travels: the plugin only authorises, the password file authenticates).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vward.contract import READINGS_TOPIC_FILTER
from vward.mqtt_tls import listener_lines, tls_files

_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes for the $7$ format
MAX_QUEUED_MESSAGES = 2_000_000
MAX_QUEUED_BYTES = 1_000_000_000
DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"  # Debian's mosquitto package
DYNSEC_FILE = "dynamic-security.json"
LOG_FIFO = "broker-log.fifo"  # read by vward.broker_log_watcher, which keeps denials and notices
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
INGEST_ACCOUNTS = 8  # vward-ingest-0 ... -7: one per ingest process, its client id
LOADGEN_ACCOUNTS = 8  # vward-loadgen-0 ... -7: one per load-generator connection
SHARED_GROUP = "ingest"  # the only $share group ingest may join (opt-in, not restart-safe)
ADMIN_USERNAME = "vward-broker-admin"  # sends $CONTROL commands when devices are issued or removed
HEALTHCHECK_USERNAME = "vward-healthcheck"
HEALTHCHECK_TOPIC = "vward/v1/healthcheck"
DEVICE_ROLE_PREFIX = "device:"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto ``$7$`` password hash."""
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    return f"$7${_PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def device_password_hashes(password: str) -> tuple[str, str]:
    """A device password as stored: (Mosquitto's ``$7$`` hash, RabbitMQ's hash), one per broker that checks it."""
    from vward import rabbitmq

    return hash_password(password), rabbitmq.hash_password(password)


def verify_password(password: str, stored: str) -> bool:
    _, _, iterations, salt_b64, digest_b64 = stored.split("$")
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt_b64), int(iterations))
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def new_device_password() -> str:
    """A fresh random password, shown once when a device's credentials are issued or rotated."""
    return secrets.token_urlsafe(24)


def demo_device_password(secret: str, device_id: str) -> str:
    """The simulated devices' passwords, derived from a shared secret so the simulator needs no password list."""
    return hmac.new(secret.encode(), device_id.encode(), hashlib.sha256).hexdigest()[:32]


def ingest_accounts(username: str) -> list[str]:
    return [f"{username}-{i}" for i in range(INGEST_ACCOUNTS)]


def loadgen_accounts(username: str = "vward-loadgen") -> list[str]:
    return [f"{username}-{i}" for i in range(LOADGEN_ACCOUNTS)]


def broker_config(mdir: Path, port: int, tls_port: int | None = None) -> str:
    """mosquitto.conf for the local platform and tests; deploy/mosquitto/mosquitto.conf documents each line.

    ``tls_port`` adds a TLS listener with the certificates in ``mdir/tls`` (``vward.mqtt_tls``)."""
    return "\n".join(
        [
            f"pid_file {mdir / 'mosquitto.pid'}",
            f"listener {port} 127.0.0.1",
            "allow_anonymous false",
            "use_username_as_clientid true",
            f"password_file {mdir / 'passwords'}",
            f"plugin {DYNSEC_PLUGIN}",
            f"plugin_opt_config_file {mdir / DYNSEC_FILE}",
            "persistence true",
            f"persistence_location {mdir / 'data'}/",
            "autosave_interval 30",
            # Holds a disconnected ingest session's backlog; see README "Outage budget".
            f"max_queued_messages {MAX_QUEUED_MESSAGES}",
            f"max_queued_bytes {MAX_QUEUED_BYTES}",
            # Ingest acknowledges after its batch commits, so a whole batch must be in flight at once.
            "max_inflight_messages 20000",
            "max_packet_size 1048576",
            "persistent_client_expiration 14d",
            # Denials are logged only at debug (vward.broker_log): all of it goes to a FIFO, not to disk.
            f"log_dest file {mdir / LOG_FIFO}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type subscribe",
            "log_type debug",
            "connection_messages false",
            *(listener_lines(tls_port, tls_files(mdir / "tls")) if tls_port else []),
            "",
        ]
    )


def _role(name: str, acls: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {
        "rolename": name,
        "acls": [{"acltype": kind, "topic": topic, "priority": 0, "allow": True} for kind, topic in acls],
    }


def device_role(device_id: str) -> dict[str, Any]:
    """A device's role: publish to its own readings topic, nothing else (Mosquitto 2.0 has no %u here)."""
    return _role(DEVICE_ROLE_PREFIX + device_id, [("publishClientSend", f"vward/v1/devices/{device_id}/readings")])


def service_roles() -> list[dict[str, Any]]:
    """What each service account may do; every other publish and subscribe is denied by default."""
    return [
        _role(
            "ingest",
            [
                ("subscribePattern", READINGS_TOPIC_FILTER),
                ("subscribePattern", f"$share/{SHARED_GROUP}/{READINGS_TOPIC_FILTER}"),
            ],
        ),
        _role("loadgen", [("publishClientSend", READINGS_TOPIC_FILTER)]),
        _role(
            "admin",
            [
                ("publishClientSend", CONTROL_TOPIC),
                ("subscribeLiteral", f"{CONTROL_TOPIC}/response"),
                ("publishClientReceive", f"{CONTROL_TOPIC}/response"),
            ],
        ),
        _role("healthcheck", [("subscribeLiteral", HEALTHCHECK_TOPIC)]),
    ]


def service_clients(ingest_username: str) -> list[dict[str, Any]]:
    """Service accounts as the plugin knows them: a role each, no password (the password file has it)."""
    accounts = [(name, "ingest") for name in ingest_accounts(ingest_username)]
    accounts += [(name, "loadgen") for name in loadgen_accounts()]
    accounts += [(ADMIN_USERNAME, "admin"), (HEALTHCHECK_USERNAME, "healthcheck")]
    return [{"username": name, "roles": [{"rolename": role}]} for name, role in accounts]


def dynsec_config(ingest_username: str, device_ids: Iterable[str]) -> dict[str, Any]:
    """The dynamic-security plugin's file: default deny, service roles, and one role per device."""
    devices = sorted(device_ids)
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": service_clients(ingest_username)
        + [{"username": d, "roles": [{"rolename": DEVICE_ROLE_PREFIX + d}]} for d in devices],
        "groups": [],
        "roles": service_roles() + [device_role(d) for d in devices],
    }


def device_commands(known: Iterable[str], wanted: Iterable[str]) -> list[dict[str, Any]]:
    """``$CONTROL`` commands that bring the plugin's devices from ``known`` to ``wanted``."""
    known_set, wanted_set = set(known), set(wanted)
    commands: list[dict[str, Any]] = []
    for device in sorted(wanted_set - known_set):
        commands.append({"command": "createRole", **device_role(device)})
        commands.append(
            {"command": "createClient", "username": device, "roles": [{"rolename": DEVICE_ROLE_PREFIX + device}]}
        )
    for device in sorted(known_set - wanted_set):
        commands.append({"command": "deleteClient", "username": device})
        commands.append({"command": "deleteRole", "rolename": DEVICE_ROLE_PREFIX + device})
    return commands


def write_dynsec_file(mdir: Path, *, ingest_username: str, device_ids: Iterable[str]) -> None:
    """Writes the plugin's file (read once when the broker starts; later changes go through ``$CONTROL``)."""
    tmp = mdir / f"{DYNSEC_FILE}.tmp"
    tmp.write_text(json.dumps(dynsec_config(ingest_username, device_ids), indent=1) + "\n")
    tmp.chmod(0o600)
    _own_by_broker(tmp)
    tmp.replace(mdir / DYNSEC_FILE)


def write_broker_files(
    mdir: Path,
    *,
    port: int,
    service_accounts: dict[str, str],
    device_password_hashes: dict[str, str],
    tls_port: int | None = None,
    ingest_username: str = "vward-ingest",
) -> None:
    """Writes mosquitto.conf, the plugin's file and the password file (service accounts hashed here)."""
    mdir.mkdir(parents=True, exist_ok=True)
    (mdir / "mosquitto.conf").write_text(broker_config(mdir, port, tls_port))
    write_dynsec_file(mdir, ingest_username=ingest_username, device_ids=device_password_hashes)
    write_password_file(mdir, service_accounts=service_accounts, device_password_hashes=device_password_hashes)


def write_password_file(
    mdir: Path, *, service_accounts: dict[str, str], device_password_hashes: dict[str, str]
) -> None:
    lines = [f"{user}:{hash_password(pw)}" for user, pw in service_accounts.items()]
    lines += [f"{device}:{pw_hash}" for device, pw_hash in device_password_hashes.items()]
    tmp = mdir / "passwords.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o600)
    _own_by_broker(tmp)
    tmp.replace(mdir / "passwords")


def _own_by_broker(path: Path) -> None:
    if os.geteuid() == 0:
        import shutil

        shutil.chown(path, "mosquitto", "mosquitto")
