"""The MQTT and Redis edges of ``bench.alert_latency``: the background publisher process and the probe client.

    python -m bench._load DEVICES_FILE --rate 5000 --duration 45

The background publisher runs in its own process so its Python work does not share a GIL with the latency
measurement. It reads the broker settings from the ``VWARD_`` environment and publishes as ``vward-loadgen``
at QoS 1 (``RawPublisher``), one connection per broker endpoint (each node of a cluster), open loop: by
time t it has published ``rate * t`` messages (catching up in bursts if it fell behind, never more), but
never with more than ``WINDOW`` un-acknowledged on a connection, so the 16-bit packet ids of messages in
flight stay unique. A publisher held back by the window or the CPU publishes fewer, and its summary says so.
Each device in ``DEVICES_FILE`` (one id per line) reports in turn, so each reports every
``len(devices) / rate`` seconds, with only its kind's vital signs, chosen so every NEWS2 parameter scores 0.
It prints ``ready`` once connected, then, after waiting for every PUBACK, one JSON line read back as
:class:`LoadSummary`.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import click
import paho.mqtt.client as mqtt
import redis

from vward import mqtt_client
from vward.config import Settings
from vward.contract import readings_topic
from vward.endpoints import Endpoint
from vward.seed import device_id

# Per device kind (by id prefix, see vward.seed.DEVICE_KINDS), values that each score 0 on NEWS2 on either
# SpO2 scale; together a patient's kit makes a complete set with total 0.
NORMAL_VALUES: dict[str, str] = {
    "ox": '"spo2":97,"hr":72',
    "bp": '"sbp":125,"dbp":80,"hr":72',
    "th": '"temp":36.8',
    "wr": '"rr":16,"hr":72',
    "ci": '"consciousness":"A","on_oxygen":false',
}
LOADGEN_USER = "vward-loadgen"
WINDOW = 1000
_ACK_TIMEOUT_S = 60.0


def _loadgen_user(client_id: str) -> str:
    """One broker account per connection, since the broker makes the username the client id: the probe's
    is ``-0``, background connection ``bench-load-N``'s is ``-(N + 1)``."""
    return f"{LOADGEN_USER}-{0 if client_id == 'bench-probe' else int(client_id.rsplit('-', 1)[1]) + 1}"


@dataclass(frozen=True)
class LoadSummary:
    published: int
    acked: int
    started: float  # wall time of the first publish
    ended: float  # wall time publishing stopped (acks may still have been arriving)
    acked_per_second: list[int]  # PUBACKs in each second of the publishing window

    @property
    def acked_rate(self) -> float:
        return sum(self.acked_per_second) / (self.ended - self.started)


def normal_payload(device: str, measured_at: datetime) -> bytes:
    """One normal reading from this device, measured at ``measured_at``."""
    values = NORMAL_VALUES[device.split("-", 1)[0]]
    return f'{{"measured_at":"{measured_at.isoformat()}",{values}}}'.encode()


def _client(settings: Settings, client_id: str, max_inflight: int) -> mqtt.Client:
    client = mqtt_client.new_client(
        settings, client_id=client_id, username=_loadgen_user(client_id), password=settings.mqtt_loadgen_password
    )
    client.max_inflight_messages_set(max_inflight)
    return client


class Prober:
    """Publishes probes on its own MQTT client and reads the alert stream, from the caller's one thread."""

    def __init__(self, settings: Settings) -> None:
        self.stream = settings.alert_stream
        self.client = _client(settings, "bench-probe", 100)
        mqtt_client.connect(self.client, settings)
        self.client.loop_start()
        self.redis = redis.Redis.from_url(settings.redis_url)
        self.last_id = "0-0"
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def publish(self, admission_id: int, values: dict[str, object]) -> float:
        """Publishes one reading from the patient's check-in device; returns the wall time just before."""
        payload = json.dumps({"measured_at": datetime.now(UTC).isoformat(), **values}).encode()
        topic = readings_topic(device_id("checkin", admission_id))
        sent_at = time.time()
        self.infos.append(self.client.publish(topic, payload, qos=1))
        return sent_at

    def raised(self, block_s: float) -> list[tuple[int, float]]:
        """(admission id, wall time read) of each ``raised`` event arriving within ``block_s``."""
        reply = cast(
            list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
            self.redis.xread({self.stream: self.last_id}, count=1000, block=max(1, int(block_s * 1000))),
        )
        read_at = time.time()
        found = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                self.last_id = entry_id.decode()
                if fields[b"event"] == b"raised":
                    found.append((int(fields[b"admission_id"]), read_at))
        return found

    def all_acked(self) -> bool:
        return all(info.is_published() for info in self.infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.redis.close()


class RawPublisher:
    """A minimal MQTT 3.1.1 QoS 1 publisher on a plain socket, for load generation only.

    paho spends about 150 µs of Python per QoS 1 publish, so at 5,000 msg/s the load generator alone took
    most of a core of this 2-core machine from the system it was measuring. Here a PUBLISH is a few bytes
    concatenated, packets go out in bursts with one ``sendall``, and a reader thread counts the 4-byte
    PUBACKs; the broker sees an ordinary client with the ``vward-loadgen`` credentials.
    """

    def __init__(self, settings: Settings, client_id: str, endpoint: Endpoint) -> None:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The same TLS as every paho client (vward.mqtt_client), when the settings ask for it.
        self.sock = (
            mqtt_client.tls_context(settings).wrap_socket(sock, server_hostname=endpoint.host)
            if settings.mqtt_tls
            else sock
        )
        fields = b"".join(_string(f) for f in (client_id, _loadgen_user(client_id), settings.mqtt_loadgen_password))
        # Protocol "MQTT" level 4; flags: username, password, clean session; keep-alive 0 (none).
        self.sock.sendall(_packet(0x10, _string("MQTT") + bytes([4, 0xC2, 0, 0]) + fields))
        connack = self._read_exactly(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise click.ClickException(f"broker refused the load generator: CONNACK {connack.hex()}")
        self.sock.settimeout(None)
        self.acked_at: list[float] = []
        self.sent = 0
        self.next_id = 0
        self._reader = threading.Thread(target=self._read_acks, daemon=True)
        self._reader.start()

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        packets = []
        for topic, payload in messages:
            self.next_id = self.next_id % 65535 + 1  # ids 1..65535; WINDOW keeps live ones unique
            packets.append(_packet(0x32, _string(topic) + self.next_id.to_bytes(2, "big") + payload))
        self.sock.sendall(b"".join(packets))
        self.sent += len(messages)

    def close(self) -> None:
        self.sock.sendall(bytes([0xE0, 0]))  # DISCONNECT
        self.sock.close()

    def _read_acks(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            complete = len(buffer) // 4 * 4  # the broker sends this client only PUBACKs, 4 bytes each
            now = time.time()
            self.acked_at.extend(now for i in range(0, complete, 4) if buffer[i] == 0x40)
            buffer = buffer[complete:]

    def _read_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise click.ClickException("the broker closed the load generator's connection")
            data += chunk
        return data


def _string(text: str) -> bytes:
    encoded = text.encode()
    return len(encoded).to_bytes(2, "big") + encoded


def _packet(first_byte: int, body: bytes) -> bytes:
    """A control packet: its type byte, the remaining length as MQTT's base-128 varint, the body."""
    length, n = b"", len(body)
    while True:
        n, digit = divmod(n, 128)
        length += bytes([digit | (0x80 if n else 0)])
        if not n:
            return bytes([first_byte]) + length + body


@click.command()
@click.argument("devices_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rate", type=click.FloatRange(min=1), required=True, help="Messages per second, all devices.")
@click.option("--duration", type=click.FloatRange(min=1), required=True, help="Seconds of publishing.")
def main(devices_file: Path, rate: float, duration: float) -> None:
    settings = Settings()
    devices = devices_file.read_text().split()
    topics = [readings_topic(d) for d in devices]
    # One connection per broker endpoint (one node of a cluster each), as a fleet spreads over the nodes.
    publishers = [RawPublisher(settings, f"bench-load-{i}", e) for i, e in enumerate(settings.mqtt_endpoint_list())]
    try:
        print("ready", flush=True)
        sent = 0
        started = time.time()
        t0 = time.monotonic()
        while (elapsed := time.monotonic() - t0) < duration:
            due = int(elapsed * rate) - sent
            for publisher in publishers:
                burst = min(-(-due // len(publishers)), len(publisher.acked_at) + WINDOW - publisher.sent, due)
                if burst > 0:
                    now = datetime.now(UTC)
                    publisher.publish(
                        [
                            (topics[i % len(devices)], normal_payload(devices[i % len(devices)], now))
                            for i in range(sent, sent + burst)
                        ]
                    )
                    sent, due = sent + burst, due - burst
            time.sleep(0.001)
        ended = time.time()
        deadline = time.monotonic() + _ACK_TIMEOUT_S
        while sum(len(p.acked_at) for p in publishers) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for publisher in publishers:
            publisher.close()
    acked_at = [t for p in publishers for t in p.acked_at]
    per_second = [0] * (int(ended - started) + 1)
    for t in acked_at:
        if t < ended:
            per_second[int(t - started)] += 1
    summary = LoadSummary(sent, len(acked_at), started, ended, per_second)
    print(json.dumps(asdict(summary)), flush=True)
    sys.exit(0 if summary.acked == sent else 1)


if __name__ == "__main__":
    main()
