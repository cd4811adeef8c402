"""`vward up`'s supervisor against the session's real services: every process killed with SIGKILL comes
back (a new pid within the 10 s the platform promises, then healthy), and `vward down` stops every vward
process of the state directory, including an ingest an operator started by hand with another index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from console.platform import PROCESSES, start_processes, stop_processes
from ingest.worker import ingest_username
from tests.integration.mqtt_helpers import close, connect, wait_until
from vward import pidfiles
from vward.config import Settings
from vward.ephemeral import free_port, settings_env

VWARD = str(Path(sys.executable).with_name("vward"))
_RESTART_PROMISE_S = 10.0  # the promise: running again within 10 s of a kill -9


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _log_count(path: Path, text: str) -> int:
    return path.read_text(errors="replace").count(text) if path.exists() else 0


class Platform:
    """The supervised processes of ``PROCESSES`` on the session's services, in a temporary state dir."""

    def __init__(self, settings: Settings, state_dir: Path) -> None:
        self.metrics_port, self.web_port = free_port(), free_port()
        self.settings = settings.model_copy(update={"state_dir": state_dir})
        self.env = {
            **settings_env(self.settings),
            "VWARD_INGEST_METRICS_PORT": str(self.metrics_port),
            "VWARD_WEB_PORT": str(self.web_port),
        }
        self.logs = state_dir / "logs"

    def pid(self, name: str) -> int | None:
        return pidfiles.read_live(pidfiles.pidfile(self.settings.state_dir, name))

    def healthy(self, name: str) -> Callable[[], bool]:
        """Its own health check: HTTP for ingest and web; running, for the hub and the simulator (no endpoint)."""
        checks: dict[str, Callable[[], bool]] = {
            "ingest-0": lambda: _http_ok(f"http://127.0.0.1:{self.metrics_port}/healthz"),
            # /livez: this process answers (its /healthz is the whole alert path's health, 503 while the
            # hub and ingest have not beaten yet).
            "web": lambda: _http_ok(f"http://127.0.0.1:{self.web_port}/livez"),
        }
        return checks.get(name, lambda: self.pid(name) is not None)


@pytest.fixture
def platform(settings: Settings, clean_db: psycopg.Connection, tmp_path: Path) -> Iterator[Platform]:
    started = Platform(settings, tmp_path / "state")
    yield started
    stop_processes(started.settings)
    for index in (0, 1):  # leave no persistent session queueing this session's messages
        account = ingest_username(settings, index)
        client, _ = connect(settings, account, settings.mqtt_ingest_password, client_id=account)
        close(client)


def test_every_process_killed_with_sigkill_is_running_again(platform: Platform) -> None:
    start_processes(platform.settings, env=platform.env)
    for name in PROCESSES:
        wait_until(platform.healthy(name), f"{name} healthy at start", timeout_s=120)
    hub_starts = _log_count(platform.logs / "hub.log", "started (group")
    supervisor_log = platform.logs / "supervisor.log"

    for name in PROCESSES:
        old = platform.pid(name)
        assert old is not None, name
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(
            lambda name=name, old=old: platform.pid(name) not in (None, old),  # type: ignore[misc]
            f"{name} restarted",
            timeout_s=_RESTART_PROMISE_S,
        )
        assert time.monotonic() - killed_at <= _RESTART_PROMISE_S
        wait_until(platform.healthy(name), f"{name} healthy after restart", timeout_s=120)
        assert f"{name} (pid {old}) was killed by SIGKILL" in supervisor_log.read_text()

    wait_until(lambda: _log_count(platform.logs / "hub.log", "started (group") > hub_starts, "hub started again")
    # Starting again while the supervisor runs changes nothing.
    pids = {name: platform.pid(name) for name in PROCESSES}
    start_processes(platform.settings, env=platform.env)
    assert {name: platform.pid(name) for name in PROCESSES} == pids


def test_a_new_supervisor_adopts_and_down_stops_an_ingest_started_by_hand(platform: Platform) -> None:
    start_processes(platform.settings, env=platform.env)
    pids = {name: platform.pid(name) for name in PROCESSES}
    first = platform.pid("supervisor")
    assert first is not None
    os.kill(first, signal.SIGKILL)  # its processes keep running; `up` again adopts them, starting none twice
    wait_until(lambda: platform.pid("supervisor") is None, "the supervisor gone")
    start_processes(platform.settings, env=platform.env)
    assert platform.pid("supervisor") not in (None, first)
    assert {name: platform.pid(name) for name in PROCESSES} == pids

    extra_env = {**platform.env, "VWARD_INGEST_METRICS_PORT": "0"}
    with (platform.logs / "ingest-1.log").open("ab") as out:
        extra = subprocess.Popen([VWARD, "ingest", "--index", "1"], env=extra_env, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: platform.pid("ingest-1") == extra.pid, "the hand-started ingest registered", timeout_s=120)
    supervised = [platform.pid(name) for name in (*PROCESSES, "supervisor")]

    stop_processes(platform.settings)

    assert extra.wait(timeout=60) == 0  # stopped with SIGTERM, cleanly
    assert not any(pid is not None and pidfiles.is_vward_process(pid) for pid in supervised)
    assert pidfiles.all_live(platform.settings.state_dir) == {}
