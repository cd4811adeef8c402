"""The MQTT and Redis edges of ``bench.alert_latency``: the background publisher process and the probe client.

    python -m bench._load DEVICES_FILE --rate 5000 --duration 45

The background publisher runs in its own process so its Python work does not share a GIL with the latency
measurement. It reads the broker settings from the ``VWARD_`` environment and publishes as ``vward-loadgen``
at QoS 1, open loop: by time t it has published ``rate * t`` messages (catching up in bursts if it fell
behind, never more), but never with more than ``WINDOW`` un-acknowledged: paho numbers messages with 16-bit
ids, so an unbounded client-side queue reuses ids and silently loses messages. A publisher held back by
the window or the CPU publishes fewer, and its summary says so. Each device in ``DEVICES_FILE`` (one id per
line) reports in turn, so each reports every ``len(devices) / rate`` seconds, with only its kind's vital
signs, chosen so every NEWS2 parameter scores 0. It prints ``ready`` once connected, then, after waiting
for every PUBACK, one JSON line read back as :class:`LoadSummary`.
"""

from __future__ import annotations

import json
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

from vward.config import Settings
from vward.contract import readings_topic
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
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(LOADGEN_USER, settings.mqtt_loadgen_password)
    client.max_inflight_messages_set(max_inflight)
    return client


class Prober:
    """Publishes probes on its own MQTT client and reads the alert stream, from the caller's one thread."""

    def __init__(self, settings: Settings) -> None:
        self.stream = settings.alert_stream
        self.client = _client(settings, "bench-probe", 100)
        self.client.connect(settings.mqtt_host, settings.mqtt_port)
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
        reply = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], self.redis.xread(
            {self.stream: self.last_id}, count=1000, block=max(1, int(block_s * 1000))))
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


@click.command()
@click.argument("devices_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rate", type=click.FloatRange(min=1), required=True, help="Messages per second, all devices.")
@click.option("--duration", type=click.FloatRange(min=1), required=True, help="Seconds of publishing.")
def main(devices_file: Path, rate: float, duration: float) -> None:
    settings = Settings()
    devices = devices_file.read_text().split()
    topics = [readings_topic(d) for d in devices]
    acked_at: list[float] = []
    connected = threading.Event()
    client = _client(settings, "bench-load", WINDOW)
    client.on_connect = lambda *_a: connected.set()
    client.on_disconnect = lambda *a: a[3].is_failure and print(f"load: disconnected: {a[3]}", file=sys.stderr)
    client.on_publish = lambda *_a: acked_at.append(time.time())  # list.append is atomic under the GIL
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise click.ClickException("no CONNACK from the broker")
        print("ready", flush=True)
        sent = 0
        started = time.time()
        t0 = time.monotonic()
        while (elapsed := time.monotonic() - t0) < duration:
            due = int(elapsed * rate)
            while sent < due and sent - len(acked_at) < WINDOW:
                i = sent % len(devices)
                client.publish(topics[i], normal_payload(devices[i], datetime.now(UTC)), qos=1)
                sent += 1
            time.sleep(0.001)
        ended = time.time()
        deadline = time.monotonic() + _ACK_TIMEOUT_S
        while len(acked_at) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    per_second = [0] * (int(ended - started) + 1)
    for t in acked_at:
        if t < ended:
            per_second[int(t - started)] += 1
    summary = LoadSummary(sent, len(acked_at), started, ended, per_second)
    print(json.dumps(asdict(summary)), flush=True)
    sys.exit(0 if summary.acked == sent else 1)


if __name__ == "__main__":
    main()
