"""Real ``vward hub`` processes for fail-over tests: started with the test session's settings, killed with
SIGKILL (``kill -9``), and alerts whose reminders fall due at a moment the test chooses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from alerting.raising import record_scores
from tests.integration.alert_helpers import admit, scored
from vward.config import Settings

WAIT_S = 90.0  # generous: the machine is shared


def hub_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process's ``get_settings()`` equal ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VWARD_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        text = (
            json.dumps(value)
            if isinstance(value, list | dict)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
        env[f"VWARD_{name.upper()}"] = text
    return env


class HubProcess:
    """One ``vward hub`` subprocess (consumer ``name``), its output in ``log``."""

    def __init__(self, settings: Settings, name: str, log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        cfg = settings.model_copy(update={"hub_consumer_name": name})
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "vward"), "hub"],
                env=hub_env(cfg),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill9(self) -> None:
        """SIGKILL: no clean-up, no goodbye, exactly as a crash or the OOM killer."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT_S)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def errors(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if " ERROR " in line or "Traceback" in line]


@contextmanager
def hubs(settings: Settings, log_dir: Path, *names: str) -> Iterator[dict[str, HubProcess]]:
    started = {name: HubProcess(settings, name, log_dir) for name in names}
    try:
        yield started
    finally:
        for hub in started.values():
            hub.stop()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Polls ``condition`` until it is true; fails after WAIT_S (a bound, not a timing assertion)."""
    pause = threading.Event()
    for _ in range(int(WAIT_S / 0.1)):
        if condition():
            return
        pause.wait(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def wait_until(conn: psycopg.Connection, query: str, params: tuple[object, ...], what: str) -> None:
    """Polls a query returning one boolean until it is true."""

    def true() -> bool:
        row = conn.execute(query, params).fetchone()
        return bool(row is not None and row[0])

    wait_for(true, what)


def wait_beating(conn: psycopg.Connection, name: str, since: datetime) -> None:
    wait_until(
        conn,
        "SELECT EXISTS (SELECT 1 FROM heartbeats WHERE component = 'hub' AND instance = %s AND beat_at > %s)",
        (name, since),
        f"hub {name} to beat",
    )


def open_alerts(conn: psycopg.Connection, settings: Settings, n: int) -> list[int]:
    """n high-risk alerts whose targets are far off and whose reminders are not due: the test makes them due."""
    now = datetime.now(UTC)
    adms = [admit(conn, admitted_at=now - timedelta(hours=1)) for _ in range(n)]
    record_scores(conn, [scored(a, 8, "high", now) for a in adms], settings=settings, now=now)
    rows = conn.execute(
        "UPDATE alerts SET acknowledge_due_at = %(far)s, response_due_at = %(far)s, next_reminder_at = %(far)s"
        " WHERE admission_id = ANY(%(adms)s) RETURNING id",
        {"far": now + timedelta(days=1), "adms": adms},
    ).fetchall()
    return sorted(r[0] for r in rows)


def make_due(conn: psycopg.Connection, alert_ids: list[int]) -> datetime:
    """Makes each alert's reminder fall due within the next second; returns when the last one is due."""
    row = conn.execute(
        "UPDATE alerts SET next_reminder_at = now() + interval '1 second' WHERE id = ANY(%s)"
        " RETURNING next_reminder_at",
        (alert_ids,),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def reminders(conn: psycopg.Connection, alert_ids: list[int]) -> dict[int, int]:
    rows = conn.execute(
        "SELECT a, count(e.id) FROM unnest(%s::bigint[]) a LEFT JOIN alert_events e ON e.alert_id = a"
        " AND e.event = 'reminder' GROUP BY a ORDER BY a",
        (alert_ids,),
    ).fetchall()
    return {int(a): int(n) for a, n in rows}
