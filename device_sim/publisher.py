"""The MQTT edge: many paho clients driven from one thread by a selector, counting PUBACKs.

One thread per paho client (``loop_start``) does not scale to hundreds of devices, so the pool runs paho's
external-loop API (``loop_read``/``loop_write``/``loop_misc``) over a ``selectors`` selector in the caller's
thread. ``publish`` writes at once; the caller calls ``service`` between publishes to read PUBACKs.

Connections are spread over ``VWARD_MQTT_ENDPOINTS`` (one broker by default); a connection that is lost
reconnects to the next endpoint, and paho sends again every QoS 1 message that was not PUBACKed, so a
dead cluster node costs a device a reconnect, not a reading.
"""

from __future__ import annotations

import logging
import selectors
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from device_sim.errors import SimulatorError
from vward import endpoints, mqtt_client
from vward.config import Settings
from vward.contract import encode_readings, readings_topic
from vward.mqtt_auth import demo_device_password

log = logging.getLogger(__name__)

LOADGEN_USERNAME = "vward-loadgen"
_RECONNECT_EVERY_S = 2.0
_MAX_INFLIGHT = 100


@dataclass
class _Conn:
    key: str
    client: mqtt.Client
    connected: bool = False
    refused: bool = False
    closing: bool = False
    endpoint: int = 0  # index into the pool's endpoints


class BrokerPool:
    """Connections to the broker, each with its own credentials; publishes at QoS 1 and counts acks."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._selector = selectors.DefaultSelector()
        self._conns: dict[str, _Conn] = {}
        self._endpoints = settings.mqtt_endpoint_list()
        self._last_misc = time.monotonic()
        self.sent = 0
        self.acked = 0
        self.refused: set[str] = set()

    @property
    def unacked(self) -> int:
        return self.sent - self.acked

    def add(self, key: str, *, username: str, password: str, client_id: str) -> None:
        """Opens a connection (CONNECT sent; the CONNACK arrives through ``service``)."""
        client = mqtt_client.new_client(self._settings, client_id=client_id, username=username, password=password)
        conn = _Conn(key, client, endpoint=len(self._conns) % len(self._endpoints))
        client.max_inflight_messages_set(_MAX_INFLIGHT)
        client.on_connect = lambda _c, _u, _f, rc, _p: self._on_connect(conn, rc)
        client.on_disconnect = lambda _c, _u, _f, rc, _p: self._on_disconnect(conn, rc)
        client.on_publish = self._on_publish
        client.on_socket_open = lambda _c, _u, sock: self._watch(sock, conn)
        client.on_socket_close = lambda _c, _u, sock: self._unwatch(sock)
        self._conns[key] = conn
        endpoint = self._endpoints[conn.endpoint]
        try:
            client.connect(endpoint.host, endpoint.port, self._settings.mqtt_keepalive_s)
        except OSError as exc:
            log.warning("cannot reach the broker for %s: %s", key, exc)

    def remove(self, key: str) -> None:
        """Disconnects one connection (a device whose patient was discharged)."""
        conn = self._conns.pop(key, None)
        if conn is not None:
            conn.closing = True
            conn.client.disconnect()

    def retry_refused(self) -> None:
        """Tries refused connections again: a device read from the database before its credentials reached
        the broker is refused once, then accepted after the broker reloads its password file."""
        for conn in self._conns.values():
            if conn.refused and conn.client.socket() is None:
                conn.refused = False
                self.refused.discard(conn.key)
                try:
                    conn.client.reconnect()
                except OSError as exc:
                    log.warning("reconnect of %s failed: %s", conn.key, exc)

    def wait_connected(self, timeout_s: float) -> None:
        """Services the connections until each is accepted or refused, or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(not (c.connected or c.refused) for c in self._conns.values()):
            self.service(0.05)

    def connected_count(self) -> int:
        return sum(c.connected for c in self._conns.values())

    def publish(self, key: str, device_id: str, readings: list[dict[str, object]]) -> bool:
        """Publishes one message on the device's topic through connection ``key``; False if it cannot."""
        conn = self._conns.get(key)
        if conn is None or conn.refused:
            return False
        info = conn.client.publish(readings_topic(device_id), encode_readings(readings), qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish for %s failed: %s", device_id, mqtt.error_string(info.rc))
            return False
        # Not connected right now: paho keeps QoS 1 messages and sends them after reconnecting.
        self.sent += 1
        return True

    def service(self, timeout_s: float) -> None:
        """Reads acks, writes what the sockets did not take at once, keeps connections alive."""
        for sock_key in list(self._selector.get_map().values()):
            conn: _Conn = sock_key.data
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.client.want_write() else 0)
            if sock_key.events != want:
                self._selector.modify(sock_key.fileobj, want, conn)
        if self._selector.get_map():
            events = self._selector.select(max(0.0, timeout_s))
        else:
            time.sleep(max(0.0, timeout_s))
            events = []
        for sock_key, mask in events:
            client = sock_key.data.client
            if mask & selectors.EVENT_READ:
                client.loop_read(max_packets=1000)
            if mask & selectors.EVENT_WRITE and client.socket() is not None:
                client.loop_write()
        now = time.monotonic()
        if now - self._last_misc >= 1.0:
            self._last_misc = now
            for conn in list(self._conns.values()):
                conn.client.loop_misc()
            self._reconnect_lost()

    def close(self, drain_timeout_s: float = 5.0) -> None:
        """Waits (bounded) for outstanding PUBACKs, then disconnects everything and closes the sockets."""
        deadline = time.monotonic() + drain_timeout_s
        while self.unacked > 0 and time.monotonic() < deadline and self.connected_count():
            self.service(0.05)
        for key in list(self._conns):
            self.remove(key)
        deadline = time.monotonic() + 2.0
        while self._selector.get_map() and time.monotonic() < deadline:
            self.service(0.05)
        for sock_key in list(self._selector.get_map().values()):
            sock_key.data.client._sock_close()  # the broker did not answer: drop the socket ourselves
        self._selector.close()

    def _watch(self, sock: Any, conn: _Conn) -> None:
        self._selector.register(sock, selectors.EVENT_READ, conn)

    def _unwatch(self, sock: Any) -> None:
        self._selector.unregister(sock)

    def _on_connect(self, conn: _Conn, reason: Any) -> None:
        if reason.is_failure:
            conn.refused = True
            self.refused.add(conn.key)
            log.warning("broker refused %s: %s", conn.key, reason)
        else:
            conn.connected = True

    def _on_disconnect(self, conn: _Conn, reason: Any) -> None:
        if conn.connected and not conn.closing:
            log.warning("connection %s lost: %s; reconnecting", conn.key, reason)
        conn.connected = False

    def _on_publish(self, _client: mqtt.Client, _userdata: object, _mid: int, _rc: Any, _props: Any) -> None:
        self.acked += 1

    def _reconnect_lost(self) -> None:
        for conn in self._conns.values():
            if conn.client.socket() is None and not (conn.refused or conn.closing):
                conn.endpoint = endpoints.order(conn.endpoint, len(self._endpoints))[0]  # the next broker node
                endpoint = self._endpoints[conn.endpoint]
                try:
                    conn.client.connect_async(endpoint.host, endpoint.port, self._settings.mqtt_keepalive_s)
                    conn.client.reconnect()
                except OSError as exc:
                    log.warning("reconnect of %s to %s failed: %s", conn.key, endpoint, exc)


def publish_readings(
    settings: Settings,
    device_id: str,
    readings: list[dict[str, object]],
    *,
    password: str | None = None,
    timeout_s: float = 10.0,
) -> None:
    """Publishes one message as the device itself (demo credentials unless given) and waits for its PUBACK.

    For tests and scripts that need one known message; raises SimulatorError if refused or not acknowledged.
    """
    pool = BrokerPool(settings)
    try:
        pool.add(
            device_id,
            username=device_id,
            client_id=device_id,
            password=password or demo_device_password(settings.sim_device_secret, device_id),
        )
        pool.wait_connected(timeout_s)
        if not pool.connected_count():
            raise SimulatorError(f"the broker did not accept {device_id}")
        pool.publish(device_id, device_id, readings)
        deadline = time.monotonic() + timeout_s
        while pool.unacked and time.monotonic() < deadline:
            pool.service(0.05)
        if pool.unacked:
            raise SimulatorError(f"no PUBACK for {device_id} within {timeout_s:.0f} s")
    finally:
        pool.close()
