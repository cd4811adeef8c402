"""Server time of the clinician hub page and the capacity board with a full LLR platform.

``python -m bench.ui_latency [--requests 100]``. Starts its own services in a temporary directory
(``vward.ephemeral``, as the tests do), admits 236 patients (every bed), stores 30 days of hourly readings for each
(about 170k rows) and opens an alert for one admission in ten, then times requests in-process through the
ASGI app (no network) as a signed-in coordinator, who sees all eleven wards. Target: p95 < 100 ms.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import click
import psycopg
from fastapi.testclient import TestClient

from clinician_ui.app import create_app
from vward import db
from vward.config import Settings
from vward.ephemeral import ephemeral_services
from vward.seed import DEMO_PASSWORD, seed_demo_patients, seed_demo_users, seed_wards

TARGET_MS = 100.0


def _populate(conn: psycopg.Connection, settings: Settings, now: datetime) -> int:
    seed_wards(conn)
    seed_demo_users(conn)
    seed_demo_patients(conn, device_secret="bench", occupancy=1.0, rng_seed=7, now=now)
    db.maintain_readings(conn, settings, first_day=date.today() - timedelta(days=31))
    admissions = [r[0] for r in conn.execute("SELECT id FROM admissions")]
    rng = random.Random(3)
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY readings (measured_at, device_id, admission_id, received_at, rr, spo2, sbp, dbp, hr, temp,"
            " on_oxygen, consciousness, news2_total, news2_complete, news2_risk, score_rr, score_spo2,"
            " score_air_oxygen, score_sbp, score_pulse, score_consciousness, score_temp) FROM STDIN"
        ) as copy,
    ):
        for adm in admissions:
            for hour in range(30 * 24):
                at = now - timedelta(hours=hour)
                total = rng.choice((0, 0, 1, 2, 3, 5))
                copy.write_row(
                    (
                        at,
                        f"wr-{adm:06d}",
                        adm,
                        at,
                        18,
                        96,
                        125,
                        80,
                        78,
                        37.0,
                        False,
                        "A",
                        total,
                        True,
                        "low",
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                    )
                )
    for adm in admissions[::10]:
        conn.execute(
            "INSERT INTO alerts (admission_id, trigger, risk, status, news2_total, news2_complete, sub_scores,"
            " observed_at, raised_at, acknowledge_due_at, response_due_at, updated_at)"
            " VALUES (%s, 'news2', 'medium', 'raised', 5, true, '{1,1,0,1,1,0,1}', %s, %s, %s, %s, %s)",
            (adm, now, now, now + timedelta(minutes=15), now + timedelta(hours=1), now),
        )
    conn.execute("ANALYZE")
    return len(admissions)


def _time(client: TestClient, path: str, n: int) -> list[float]:
    client.get(path, headers={"Accept": "text/html"})  # warm caches and templates
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, headers={"Accept": "text/html"})
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return out


@click.command()
@click.option("--requests", "n", default=100, show_default=True)
def main(n: int) -> None:
    failed = False
    with ephemeral_services(prefix="vward-bench-") as started:
        settings = started.settings
        now = datetime.now(UTC)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            beds = _populate(conn, settings, now)
            patient = conn.execute("SELECT min(id) FROM admissions").fetchone()[0]  # type: ignore[index]
        click.echo(f"{beds} admitted, {beds * 30 * 24} readings, {len(range(0, beds, 10))} open alerts")
        with TestClient(create_app(settings)) as client:
            token = client.get("/api/csrf").json()["csrf"]
            client.post(
                "/signin", json={"username": "coordinator", "password": DEMO_PASSWORD}, headers={"X-CSRF-Token": token}
            )
            for path in ("/", "/capacity", "/api/capacity", f"/patients/{patient}"):
                ms = sorted(_time(client, path, n))
                p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
                failed |= path in ("/", "/capacity") and p95 >= TARGET_MS
                click.echo(f"{path:24s} p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms")
    if failed:
        raise SystemExit(f"hub or capacity p95 at or over {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
