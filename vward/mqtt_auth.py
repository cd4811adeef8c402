"""Broker credentials and topic ACL: one MQTT identity per device, allowed to publish only to its own topic.

Device passwords are stored in PostgreSQL as Mosquitto password-file hashes (PBKDF2-SHA512, the ``$7$``
format of ``mosquitto_passwd``), never in plain text; the broker's password file is written from them and
the broker reloaded on SIGHUP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from vward.contract import READINGS_TOPIC_FILTER
from vward.mqtt_tls import listener_lines, tls_files

_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes for the $7$ format
MAX_QUEUED_MESSAGES = 2_000_000
MAX_QUEUED_BYTES = 1_000_000_000


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto ``$7$`` password hash."""
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    return f"$7${_PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


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


def broker_config(mdir: Path, port: int, tls_port: int | None = None) -> str:
    """mosquitto.conf for the local platform and tests; deploy/mosquitto/mosquitto.conf documents each line.

    ``tls_port`` adds a TLS listener with the certificates in ``mdir/tls`` (``vward.mqtt_tls``)."""
    return "\n".join(
        [
            f"pid_file {mdir / 'mosquitto.pid'}",
            f"listener {port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {mdir / 'passwords'}",
            f"acl_file {mdir / 'acl'}",
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
            f"log_dest file {mdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages false",
            *(listener_lines(tls_port, tls_files(mdir / "tls")) if tls_port else []),
            "",
        ]
    )


def acl_rules() -> str:
    """Devices publish only to their own topic (``%u`` is the username, which is the device id)."""
    return "\n".join(
        [
            "# Service accounts",
            "user vward-ingest",
            f"topic read {READINGS_TOPIC_FILTER}",
            "user vward-loadgen",
            f"topic write {READINGS_TOPIC_FILTER}",
            "",
            "# Every other user is a device",
            "pattern write vward/v1/devices/%u/readings",
            "",
        ]
    )


def write_broker_files(
    mdir: Path,
    *,
    port: int,
    service_accounts: dict[str, str],
    device_password_hashes: dict[str, str],
    tls_port: int | None = None,
) -> None:
    """Writes mosquitto.conf, the ACL and the password file (service accounts hashed here, devices as stored)."""
    mdir.mkdir(parents=True, exist_ok=True)
    (mdir / "mosquitto.conf").write_text(broker_config(mdir, port, tls_port))
    (mdir / "acl").write_text(acl_rules())
    write_password_file(mdir, service_accounts=service_accounts, device_password_hashes=device_password_hashes)


def write_password_file(
    mdir: Path, *, service_accounts: dict[str, str], device_password_hashes: dict[str, str]
) -> None:
    lines = [f"{user}:{hash_password(pw)}" for user, pw in service_accounts.items()]
    lines += [f"{device}:{pw_hash}" for device, pw_hash in device_password_hashes.items()]
    tmp = mdir / "passwords.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o600)
    if os.geteuid() == 0:
        import shutil

        shutil.chown(tmp, "mosquitto", "mosquitto")
    tmp.replace(mdir / "passwords")
