"""End-to-end alert latency: MQTT publish of a high-risk reading to its ``raised`` event on the Redis stream.

    python -m bench.alert_latency [--probes 120] [--fleet-patients 5000] [--ingest-processes 1]
    python -m bench.alert_latency --broker rabbitmq --ingest-processes 2

Starts throwaway PostgreSQL, Redis and Mosquitto (or a three-node RabbitMQ cluster), admits the 236 LLR
patients and a 5,000-patient load-test fleet (25,000 devices), starts ``vward ingest``, and runs two loads
in turn: (1) LLR scale, ~250 msg/s of normal readings over the adult LLR patients' kits; (2) every fleet
device reporting every 5 s (5,000 msg/s). Background readings come from a separate publisher process
(``bench._load``) with adult-normal values (NEWS2 0), so they go to adults only: NPEWS rightly scores RR 16
and HR 72 in a two-year-old (the under-fives of the paediatric ward raised three alerts when they had
background readings). Every
``--probe-interval`` this process publishes, on its own client, one high-risk reading for an adult patient
(NEWS2 does not score children) not probed before (so with no open alert) and times from just before
``publish`` to when XREAD returns that admission's ``raised`` event. After each load it waits for ingest
to drain and checks that exactly the published readings were stored, nothing was quarantined, every probe
raised an event and nothing else did.
The targets: p99 <= 100 ms at LLR scale, <= 1 s at 5,000 msg/s.
Exits 1 if anything was lost or wrong; a missed latency target is printed as MISSED, not a failure.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import click
import psycopg

from bench import _drain as drain
from bench._load import LoadSummary, Prober
from device_sim.fleet import register_synthetic_fleet
from vward import services
from vward.config import Settings
from vward.ephemeral import ephemeral_cluster, ephemeral_services, free_port, settings_env
from vward.seed import DEVICE_KINDS, device_id, seed_demo_patients, seed_demo_users, seed_wards

PROBE = {"rr": 30, "spo2": 85, "on_oxygen": False, "sbp": 85, "hr": 140, "temp": 39.6, "consciousness": "V"}
LLR_TARGET_P99_S = 0.1  # group commit: an idle writer takes a lone reading at once
FLEET_TARGET_P99_S = 1.0
LATE_AFTER_S = 10.0
WARMUP_S = 3.0
STALL_S = 30.0  # the drain gives up after this long without a single new stored reading


@dataclass
class Phase:
    name: str
    admissions: list[int]
    rate: float
    probed: list[int]  # the admissions a probe may target: adults (NEWS2 does not score children)
    target_p99_s: float


@dataclass
class Result:
    phase: Phase
    load: LoadSummary | None = None
    probes: int = 0
    latencies: list[float] = field(default_factory=list)
    stored_rate: float = 0.0  # readings committed per second while the background was published
    drain_s: float = 0.0  # from the end of publishing until every reading was stored
    problems: list[str] = field(default_factory=list)


def count(settings: Settings, sql: str) -> int:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def start_ingest(settings: Settings, logs: Path, n: int, procs: list[subprocess.Popen[bytes]]) -> None:
    """Starts ``n`` ingest processes and waits for each to report itself connected to the broker."""
    shared = n > 1 and settings.broker == "mosquitto"
    for i in range(n):
        with (logs / f"ingest-{i}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [drain.VWARD, "--log-level", "WARNING", "ingest", "--index", str(i)],
                    # On Mosquitto several processes share the readings only on $share (an opt-in: not
                    # restart-safe); on RabbitMQ they are competing consumers of the one queue.
                    env={**settings_env(settings), **({"VWARD_MQTT_SHARED_GROUP": "ingest"} if shared else {})},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    deadline = time.monotonic() + 30
    for i in range(n):
        while True:
            if any(p.poll() is not None for p in procs):
                raise click.ClickException(f"ingest exited; see {logs}/ingest-*.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{settings.ingest_metrics_port + i}/healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise click.ClickException("ingest did not become healthy in 30 s") from None
                time.sleep(0.1)


def wait_stored(settings: Settings, expected: int) -> int:
    """Waits until ``expected`` readings are stored, or progress stalls; returns how many are."""
    stored, progress_at = -1, time.monotonic()
    while True:
        now_stored = count(settings, "SELECT count(*) FROM readings")
        if now_stored >= expected:
            return now_stored
        if now_stored != stored:
            stored, progress_at = now_stored, time.monotonic()
        elif time.monotonic() - progress_at > STALL_S:
            return stored
        time.sleep(0.2)


def run_phase(
    phase: Phase, settings: Settings, logs: Path, prober: Prober, probes: int, interval: float, rng: random.Random
) -> Result:
    result = Result(phase)
    devices = [device_id(kind, a) for a in phase.admissions for kind in DEVICE_KINDS]
    rng.shuffle(devices)
    devices_file = logs / f"devices-{len(devices)}.txt"
    devices_file.write_text("\n".join(devices))
    candidates = rng.sample(phase.probed, probes)
    duration = WARMUP_S + probes * interval + 2.0
    stored_before = count(settings, "SELECT count(*) FROM readings")
    alerts_before = count(settings, "SELECT count(*) FROM alerts")
    pending: dict[int, float] = {}

    def read_stream(block_s: float) -> None:
        for admission, read_at in prober.raised(block_s):
            if admission in pending:
                result.latencies.append(read_at - pending.pop(admission))

    with (logs / f"load-{len(devices)}.log").open("wb") as log:
        load = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench._load",
                str(devices_file),
                "--rate",
                str(phase.rate),
                "--duration",
                str(duration),
            ],
            env=settings_env(settings),
            stdout=subprocess.PIPE,
            stderr=log,
        )
    try:
        assert load.stdout is not None
        if load.stdout.readline().strip() != b"ready":
            raise click.ClickException(f"load generator failed; see {logs}")
        publishing_ends = time.monotonic() + duration
        next_probe = time.monotonic() + WARMUP_S
        stored_at_end = None
        while load.poll() is None or result.probes < probes:
            if result.probes < probes and time.monotonic() >= next_probe:
                pending[candidates[result.probes]] = prober.publish(candidates[result.probes], PROBE)
                result.probes += 1
                next_probe += interval
            if stored_at_end is None and time.monotonic() >= publishing_ends:
                stored_at_end = count(settings, "SELECT count(*) FROM readings")
            read_stream(min(0.1, max(0.001, next_probe - time.monotonic())))
        if stored_at_end is None:  # the publisher exits just after its window: we may not have looked yet
            stored_at_end = count(settings, "SELECT count(*) FROM readings")
        summary = json.loads(load.stdout.read() or b"null")
    finally:
        drain.stop([load])
        devices_file.unlink()
    if not summary:
        raise click.ClickException(f"load generator gave no summary; see {logs}")
    result.load = LoadSummary(**summary)
    expected = stored_before + result.load.acked + result.probes
    result.stored_rate = (stored_at_end - stored_before) / duration
    stored = wait_stored(settings, expected)
    result.drain_s = max(0.0, time.monotonic() - publishing_ends)
    deadline = time.monotonic() + 2.0
    while pending and time.monotonic() < deadline:
        read_stream(0.1)
    alerts = count(settings, "SELECT count(*) FROM alerts") - alerts_before
    quarantined = count(settings, "SELECT count(*) FROM quarantine")
    checks = [
        (
            result.load.published == result.load.acked,
            f"background: {result.load.published} published, {result.load.acked} acked",
        ),
        (prober.all_acked(), "a probe was not acknowledged by the broker"),
        (stored == expected, f"readings stored {stored} != published {expected}"),
        (quarantined == 0, f"{quarantined} quarantine rows"),
        (not pending, f"{len(pending)} probes never raised an event (admissions {sorted(pending)[:5]})"),
        (alerts == result.probes, f"{alerts} alerts raised for {result.probes} probes"),
    ]
    result.problems = [problem for ok, problem in checks if not ok]
    return result


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def report(results: list[Result], broker: str, ingest_processes: int) -> None:
    print(f"\nbroker: {broker}; {ingest_processes} ingest process(es); {os.cpu_count()} cores")
    header = (
        f"{'load':<34}{'bg target':>10}{'bg acked':>10}{'stored':>9}{'drain':>7}{'probes':>8}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'>10 s':>6}{'lost':>6}  p99 target"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for r in results:
        assert r.load is not None
        lat = sorted(r.latencies)
        p50, p99, top = (percentile(lat, 0.5), percentile(lat, 0.99), lat[-1]) if lat else (math.inf,) * 3
        print(
            f"{r.phase.name:<34}{r.phase.rate:>8.0f}/s{r.load.acked_rate:>8.0f}/s{r.stored_rate:>7.0f}/s"
            f"{r.drain_s:>6.1f}s{r.probes:>8}{p50 * 1000:>8.0f}{p99 * 1000:>8.0f}{top * 1000:>8.0f}"
            f"{sum(v > LATE_AFTER_S for v in lat):>6}{r.probes - len(lat):>6}  "
            f"{'ok' if p99 <= r.phase.target_p99_s else 'MISSED'} (<= {r.phase.target_p99_s * 1000:.0f} ms)"
        )
    print(
        "\nbg acked: background messages PUBACKed per second while publishing; stored: readings committed"
        " per second over the same time; drain: from the end of publishing until every reading was stored;"
        " p99: nearest rank; >10 s: probes whose event came later than 10 s; lost: probes with no event."
    )
    for r in results:
        assert r.load is not None
        inner = r.load.acked_per_second[1:-1] or r.load.acked_per_second
        verdict = "; ".join(r.problems) or "nothing lost: stored == published, 0 quarantined, 1 alert per probe"
        print(f"{r.phase.name}: acked per second min {min(inner)} max {max(inner)}; {verdict}")


@click.command()
@click.option(
    "--probes",
    default=120,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Probes per load (adults only: NEWS2 does not score children).",
)
@click.option("--probe-interval", default=0.3, show_default=True, type=click.FloatRange(0.05, 5))
@click.option("--llr-rate", default=250.0, show_default=True, help="Background msg/s at LLR scale.")
@click.option("--fleet-patients", default=5000, show_default=True, type=click.IntRange(236))
@click.option("--report-every", default=5.0, show_default=True, help="Seconds between a fleet device's readings.")
@click.option("--ingest-processes", default=1, show_default=True, type=click.IntRange(1, 8))
@click.option(
    "--broker",
    type=click.Choice(["mosquitto", "rabbitmq"]),
    default="mosquitto",
    show_default=True,
    help="rabbitmq: a three-node cluster; ingest processes are competing consumers of its quorum queue.",
)
@click.option("--seed", default=1, show_default=True)
def main(
    probes: int,
    probe_interval: float,
    llr_rate: float,
    fleet_patients: int,
    report_every: float,
    ingest_processes: int,
    broker: str,
    seed: int,
) -> None:
    rng = random.Random(seed)
    logs = Path(tempfile.mkdtemp(prefix="vward-bench-latency-logs-"))
    with contextlib.ExitStack() as stack:
        svc = stack.enter_context(ephemeral_services(prefix="vward-bench-latency-", ingest_metrics_port=free_port()))
        settings = svc.settings
        if broker == "rabbitmq":
            # Devices' readings and probes go through the load-generator accounts, which may publish on any
            # device's routing key, so the 25,000 devices need no accounts of their own on the cluster.
            settings = stack.enter_context(ephemeral_cluster(settings, svc.base / "rabbitmq")).settings
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            seed_wards(conn)
            seed_demo_users(conn)
            seed_demo_patients(conn, device_secret=settings.sim_device_secret, occupancy=1.0, rng_seed=seed)
            llr = [int(r[0]) for r in conn.execute("SELECT id FROM admissions ORDER BY id").fetchall()]
            adults = [
                int(r[0])
                for r in conn.execute(
                    "SELECT a.id FROM admissions a JOIN patients p ON p.id = a.patient_id"
                    " WHERE vward_news2_applies(a.admitted_at, p.date_of_birth) ORDER BY a.id"
                ).fetchall()
            ]
            fleet = sorted({d.admission_id for d in register_synthetic_fleet(conn, fleet_patients, settings)})
        phases = [
            Phase(f"LLR: {len(adults)} adults of {len(llr)}", adults, llr_rate, adults, LLR_TARGET_P99_S),
            Phase(
                f"fleet: {len(fleet) * len(DEVICE_KINDS)} devices every {report_every:g} s",
                fleet,
                len(fleet) * len(DEVICE_KINDS) / report_every,
                fleet,
                FLEET_TARGET_P99_S,
            ),
        ]
        procs: list[subprocess.Popen[bytes]] = []
        prober = None
        results = []
        try:
            start_ingest(settings, logs, ingest_processes, procs)
            prober = Prober(settings)
            prober.publish(adults[0], {"spo2": 97})  # warms ingest up (its first batch compiles the scorer)
            if wait_stored(settings, 1) != 1:
                raise click.ClickException("the warm-up reading was not stored")
            for phase in phases:
                print(f"running {phase.name} at {phase.rate:.0f} msg/s ...", flush=True)
                results.append(run_phase(phase, settings, logs, prober, probes, probe_interval, rng))
        finally:
            if prober is not None:
                prober.close()
            drain.stop(procs)
            broker_log = services.mosquitto_dir(svc.base) / "mosquitto.log"
            if broker_log.exists():
                shutil.copy(broker_log, logs)
    report(results, broker, ingest_processes)
    print(f"logs (ingest, load generator, broker): {logs}")
    sys.exit(1 if any(r.problems for r in results) else 0)


if __name__ == "__main__":
    main()
