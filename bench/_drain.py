"""What the ingest benchmarks share: the messages they publish and how they time and check a drain.

Every stage pre-loads the broker, starts its consumers and times them from the first committed row to
the last, reading ingest's own stored-readings counter (count(*) would scan the table), then checks that
exactly the published readings were stored, none twice, nothing quarantined.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import click
import psycopg

from vward.config import Settings
from vward.contract import encode_readings, readings_topic

VWARD = str(Path(sys.executable).with_name("vward"))
METRICS_PORTS: dict[int, int] = {}  # ingest process id -> its metrics port


def messages(devices: list[str], n: int, start: datetime, per_message: int) -> list[tuple[str, bytes]]:
    """n messages over the devices, each reading with its own second; values vary like a real ward's."""
    rng = random.Random(7)
    out = []
    for i in range(n):
        device = devices[i % len(devices)]
        first = (i // len(devices)) * per_message
        readings = [
            {
                "measured_at": (start + timedelta(seconds=first + k)).isoformat(),
                "rr": rng.randint(12, 24),
                "hr": rng.randint(55, 120),
                "spo2": rng.randint(90, 99),
                "on_oxygen": False,
            }
            for k in range(per_message)
        ]
        out.append((readings_topic(device), encode_readings(readings)))
    return out


def stored_by_ingest(procs: list[subprocess.Popen[bytes]]) -> int:
    """Readings the ingest processes report committed: a counter read, where count(*) would scan the table."""
    total = 0
    for proc in procs:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORTS[proc.pid]}/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            continue  # not serving yet
        total += sum(
            int(float(line.split()[-1]))
            for line in text.splitlines()
            if line.startswith("vward_ingest_readings_stored_total ")
        )
    return total


def drain_rate(
    settings: Settings, expected: int, procs: list[subprocess.Popen[bytes]], stored_now: Callable[[], int]
) -> float:
    """Readings/s from the first committed row to the last, polling ``stored_now``.

    Polls often only near the start and the end, whose timing the rate depends on: every poll takes a
    little of the measured process's time.
    """
    first_at, first_count = None, 0
    deadline = time.monotonic() + 600
    while True:
        stored = stored_now()
        if first_at is None and stored:
            first_at, first_count = time.monotonic(), stored
        if stored >= expected:
            break
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise click.ClickException(f"stopped at {stored}/{expected} readings")
        time.sleep(0.02 if first_at is None or stored > 0.95 * expected else 0.25)
    assert first_at is not None
    return (expected - first_count) / max(time.monotonic() - first_at, 1e-9)


def check_exact(settings: Settings, expected: int) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        stored, distinct, quarantined = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, measured_at)), (SELECT count(*) FROM quarantine) FROM readings"
        ).fetchone()  # type: ignore[misc]
    if (stored, distinct, quarantined) != (expected, expected, 0):
        raise click.ClickException(
            f"lost or duplicated: stored {stored}, distinct {distinct}, quarantined {quarantined}, expected {expected}"
        )


def truncate(settings: Settings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE readings, quarantine, observation_state, alerts, alert_events CASCADE")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM, a grace period (an ingest commits its open batch), then SIGKILL for whatever still runs."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
