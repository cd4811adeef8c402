"""RabbitMQ's side of the trust model and the readings' topology, as data. Pure: no network, no processes.

Devices publish MQTT to ``vward/v1/devices/{id}/readings``; RabbitMQ's MQTT plugin turns the ``/`` into
``.`` and publishes to ``amq.topic`` with routing key ``vward.v1.devices.{id}.readings`` (so a device id
must never hold ``.``, ``*``, ``#`` or ``/``: ``vward.contract.DEVICE_ID_PATTERN`` excludes them). A
durable quorum queue bound with ``vward.v1.devices.*.readings`` keeps every reading, replicated by Raft on
every node, whether or not ingest is connected; it must exist before any device is admitted, because
RabbitMQ PUBACKs a QoS 1 message that no binding routes and drops it.

Measured on Debian's 3.10.8: a device's topic permission ``^vward\\.v1\\.devices\\.{username}\\.readings$``
(``{username}`` expanded by the broker) lets it write only its own routing key; a foreign publish gets no
PUBACK and the connection is closed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from typing import Any

from vward.contract import TOPIC_PREFIX

EXCHANGE = "amq.topic"  # where the MQTT plugin publishes
ROUTING_PREFIX = TOPIC_PREFIX.replace("/", ".")
READINGS_BINDING = f"{ROUTING_PREFIX}.*.readings"
REPLICAS = 3  # 3 or 5 nodes, never 2: MQTT client-id tracking needs a majority
HASHING_ALGORITHM = "rabbit_password_hashing_sha256"  # RabbitMQ's default
NOTHING = "^$"


def queue_arguments(replicas: int = REPLICAS) -> dict[str, Any]:
    """A quorum queue with a replica on every node of the cluster."""
    return {"x-queue-type": "quorum", "x-quorum-initial-group-size": replicas}


def topic_from_routing_key(routing_key: str) -> str:
    """The MQTT topic a device published to (``.`` back to ``/``), which decoding and quarantine use."""
    return routing_key.replace(".", "/")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A RabbitMQ password hash (``rabbit_password_hashing_sha256``): base64 of salt + SHA-256(salt + password).

    RabbitMQ cannot check Mosquitto's PBKDF2 hashes, so each device's password is stored in both forms.
    """
    salt = salt or os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def device_permissions() -> dict[str, str]:
    """A device may publish to the topic exchange (its routing key is checked by the topic permission)."""
    return {"configure": NOTHING, "write": f"^{re.escape(EXCHANGE)}$", "read": NOTHING}


def device_topic_permissions() -> dict[str, str]:
    """Write only its own routing key; read (subscribe to) nothing."""
    own = re.escape(f"{ROUTING_PREFIX}.") + "{username}" + re.escape(".readings")
    return {"exchange": EXCHANGE, "write": f"^{own}$", "read": NOTHING}


def ingest_permissions(queue: str) -> dict[str, str]:
    """Ingest consumes the readings queue and does nothing else."""
    return {"configure": NOTHING, "write": NOTHING, "read": f"^{re.escape(queue)}$"}


def loadgen_permissions() -> dict[str, str]:
    return device_permissions()


def loadgen_topic_permissions() -> dict[str, str]:
    """The load generator publishes for any device (it stands in for thousands of them)."""
    return {"exchange": EXCHANGE, "write": f"^{re.escape(ROUTING_PREFIX)}\\.[^.]+\\.readings$", "read": NOTHING}
