"""The RabbitMQ management HTTP API, for the few things vward asks of it: the readings queue, accounts, rights.

The API rather than ``rabbitmqctl``: the web host that issues device credentials has no Erlang cookie.
Each call goes to the first node that answers, so one dead node does not stop an admin from issuing a
device. The topology itself is data in ``vward.rabbitmq``.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any

from vward import mqtt_auth, rabbitmq
from vward.config import Settings

log = logging.getLogger(__name__)
_TIMEOUT_S = 10.0
VHOST = "/"


class ManagementError(RuntimeError):
    """No node's management API answered, or one refused a change."""


class QueueNotReady(ManagementError):
    """The readings queue or its binding is missing, or it has fewer replicas than the cluster has nodes."""


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class Management:
    def __init__(self, urls: Iterable[str], username: str, password: str) -> None:
        self.urls = list(urls)
        if not self.urls:
            raise ManagementError("no RabbitMQ management URL configured (VWARD_RABBITMQ_MANAGEMENT_URLS)")
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._auth = f"Basic {token}"

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """The JSON answer of the first node that answers (a 404 gives None); a refusal raises."""
        data = json.dumps(body).encode() if body is not None else None
        failures: list[str] = []
        for url in self.urls:
            request = urllib.request.Request(f"{url}/api/{path}", data=data, method=method)
            request.add_header("Authorization", self._auth)
            request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
                    text = response.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404 and method == "GET":
                    return None
                detail = exc.read()[:300].decode(errors="replace")
                if exc.code >= 500:  # e.g. a node that is up but cannot reach the others
                    failures.append(f"{url}: {exc.code} {detail}")
                    continue
                raise ManagementError(f"{method} {path}: {exc.code} {detail}") from exc
            except (OSError, urllib.error.URLError) as exc:
                failures.append(f"{url}: {exc}")
                continue
            return json.loads(text) if text else None
        raise ManagementError(f"no RabbitMQ management API answered: {'; '.join(failures)}")

    # -- the readings queue --------------------------------------------------------------------------
    def declare_readings_queue(self, queue: str, *, replicas: int = rabbitmq.REPLICAS) -> None:
        """Declares the durable quorum queue and its binding (idempotent), with a replica on every node."""
        self.call(
            "PUT", f"queues/{_q(VHOST)}/{_q(queue)}", {"durable": True, "arguments": rabbitmq.queue_arguments(replicas)}
        )
        self.call(
            "POST",
            f"bindings/{_q(VHOST)}/e/{_q(rabbitmq.EXCHANGE)}/q/{_q(queue)}",
            {"routing_key": rabbitmq.READINGS_BINDING},
        )

    def queue(self, queue: str) -> dict[str, Any] | None:
        found = self.call("GET", f"queues/{_q(VHOST)}/{_q(queue)}")
        return found if isinstance(found, dict) else None

    def check_readings_queue(self, queue: str, *, replicas: int = rabbitmq.REPLICAS) -> dict[str, Any]:
        """The queue's state if it is a quorum queue, bound for readings, with ``replicas`` members."""
        found = self.queue(queue)
        if found is None:
            raise QueueNotReady(f"queue {queue!r} does not exist: run `vward setup rabbitmq` (or `vward up --cluster`)")
        if found.get("type") != "quorum":
            raise QueueNotReady(f"queue {queue!r} is a {found.get('type')} queue, not a quorum queue")
        if len(found.get("members") or []) < replicas:
            raise QueueNotReady(f"queue {queue!r} has replicas on {found.get('members')}, wanted {replicas}")
        bindings = self.call("GET", f"bindings/{_q(VHOST)}/e/{_q(rabbitmq.EXCHANGE)}/q/{_q(queue)}") or []
        if not any(b.get("routing_key") == rabbitmq.READINGS_BINDING for b in bindings):
            raise QueueNotReady(f"queue {queue!r} is not bound to {rabbitmq.EXCHANGE} for {rabbitmq.READINGS_BINDING}")
        return found

    # -- accounts ------------------------------------------------------------------------------------
    def put_user(
        self, name: str, *, password: str | None = None, password_hash: str | None = None, tags: str = ""
    ) -> None:
        body: dict[str, Any] = {"tags": tags}
        if password_hash is not None:
            body |= {"password_hash": password_hash, "hashing_algorithm": rabbitmq.HASHING_ALGORITHM}
        else:
            body["password"] = password
        self.call("PUT", f"users/{_q(name)}", body)

    def delete_user(self, name: str) -> None:
        self.call("DELETE", f"users/{_q(name)}")

    def set_permissions(self, name: str, permissions: Mapping[str, str]) -> None:
        self.call("PUT", f"permissions/{_q(VHOST)}/{_q(name)}", permissions)

    def set_topic_permissions(self, name: str, permissions: Mapping[str, str]) -> None:
        self.call("PUT", f"topic-permissions/{_q(VHOST)}/{_q(name)}", permissions)

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "nodes") or [])


DEVICE_TAG = "vward-device"  # marks the accounts that the devices table owns (sync adds, rotates, removes them)


def provision(management: Management, settings: Settings) -> None:
    """The readings queue and its binding, checked on every node, and only then the service accounts.

    Run before any device account exists (``vward setup rabbitmq``, ``vward up --cluster``): RabbitMQ
    PUBACKs a reading that no binding routes and drops it.
    """
    queue = settings.amqp_queue
    management.declare_readings_queue(queue)
    management.check_readings_queue(queue)
    management.put_user(settings.mqtt_ingest_username, password=settings.mqtt_ingest_password)
    management.set_permissions(settings.mqtt_ingest_username, rabbitmq.ingest_permissions(queue))
    for name in mqtt_auth.loadgen_accounts():
        management.put_user(name, password=settings.mqtt_loadgen_password)
        management.set_permissions(name, rabbitmq.loadgen_permissions())
        management.set_topic_permissions(name, rabbitmq.loadgen_topic_permissions())


def device_definitions(changed: Mapping[str, str]) -> dict[str, Any]:
    """A definitions document adding or updating these devices (id -> RabbitMQ hash) with their rights."""
    names = sorted(changed)
    return {
        "users": [
            {
                "name": n,
                "password_hash": changed[n],
                "hashing_algorithm": rabbitmq.HASHING_ALGORITHM,
                "tags": DEVICE_TAG,
            }
            for n in names
        ],
        "permissions": [{"user": n, "vhost": VHOST, **rabbitmq.device_permissions()} for n in names],
        "topic_permissions": [{"user": n, "vhost": VHOST, **rabbitmq.device_topic_permissions()} for n in names],
    }


def sync_devices(management: Management, hashes: Mapping[str, str | None], *, queue: str) -> None:
    """Brings RabbitMQ's device accounts to the devices table: new and rotated passwords, removed devices.

    Refuses while the readings queue is missing (a device must never publish into no queue). A device
    without a RabbitMQ hash (issued before it was stored) is left out: it fails closed until rotated.
    Rotated and removed devices' open connections are closed, so the old password stops working at once.
    """
    management.check_readings_queue(queue)
    current = {
        u["name"]: u.get("password_hash")
        for u in management.call("GET", "users") or []
        if DEVICE_TAG in (u["tags"] if isinstance(u.get("tags"), list) else str(u.get("tags", "")).split(","))
    }
    wanted = {name: h for name, h in hashes.items() if h}
    if missing := sorted(set(hashes) - set(wanted)):
        log.warning("%d devices have no RabbitMQ password yet (rotate them): %s", len(missing), missing[:5])
    changed = {name: h for name, h in wanted.items() if current.get(name) != h}
    if changed:
        management.call("POST", "definitions", device_definitions(changed))
    removed = set(current) - set(wanted)
    for name in sorted(removed):
        management.delete_user(name)
    stale = removed | (set(changed) & set(current))
    if stale:
        for conn in management.call("GET", "connections") or []:
            if conn.get("user") in stale:
                management.call("DELETE", f"connections/{_q(conn['name'])}")
