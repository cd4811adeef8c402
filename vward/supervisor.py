"""Keeps the local platform's processes running: restarts any that dies, with back-off, and says why.

``vward up`` starts one supervisor (``python -m vward.supervisor STATE_DIR SPEC``), detached from the
terminal. It starts each process of the spec (name -> command line) with its output in
``logs/<name>.log``, keeps its pid file in ``run/``, and polls. A process that exits or is killed is
started again after a back-off that doubles with each quick failure (0.5 s, 1 s, ... 30 s) and resets
once a run lasts a minute; each restart is logged with the exit code or signal and how often it happened.
SIGTERM stops the processes in reverse order (each gets SIGTERM, so ingest flushes its batch; SIGKILL
after ``STOP_TIMEOUT_S``), then the supervisor itself.

Who restarts the supervisor? Nothing, by design: it only forks, waits and writes pid files, so the
faults that kill vward processes (a database or broker going away, a bad message) cannot reach it. If it
is killed anyway its processes keep running, ``vward down`` still stops them (pid files), and ``vward up``
starts a new supervisor that adopts the live ones (watching their pids) and restarts the rest. In
production systemd (``deploy/systemd``) or the container runtime supervises each process instead, and
systemd itself is supervised by the kernel.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from vward import pidfiles

log = logging.getLogger("vward.supervisor")

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a run this long was not a crash loop: the next failure restarts after BACKOFF_FIRST_S
POLL_S = 0.2
STOP_TIMEOUT_S = 15.0
_RECENT_S = 3600.0
SUPERVISOR = "supervisor"


def restart_delay(quick_failures: int) -> float:
    """Seconds to wait before the next start, after ``quick_failures`` (>= 1) short runs in a row."""
    return min(BACKOFF_FIRST_S * 2 ** max(quick_failures - 1, 0), BACKOFF_MAX_S)


def describe_exit(returncode: int | None) -> str:
    """An exit status as an operator reads it (``Popen.returncode``: negative means killed by a signal)."""
    if returncode is None:
        return "is gone (exit status unknown: adopted from an earlier supervisor)"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class Child:
    """One supervised process and its restart history."""

    name: str
    argv: list[str]
    pid: int | None = None
    popen: subprocess.Popen[bytes] | None = None  # None for a process adopted from an earlier supervisor
    started_at: float = 0.0
    quick_failures: int = 0
    start_at: float = 0.0  # when it may be started (again)
    restarts: deque[float] = field(default_factory=deque)

    def exit_status(self) -> tuple[bool, int | None]:
        """(has it ended, its return code if known)."""
        if self.popen is not None:
            code = self.popen.poll()
            return code is not None, code
        return self.pid is None or not pidfiles.is_vward_process(self.pid), None


class Supervisor:
    def __init__(self, state_dir: Path, spec: dict[str, list[str]]) -> None:
        self.state_dir = state_dir
        self.children = [Child(name, argv) for name, argv in spec.items()]
        self.logs = state_dir.resolve() / "logs"

    def adopt(self) -> None:
        """Watches processes that are already running (an earlier supervisor was killed) instead of doubling them."""
        for child in self.children:
            pid = pidfiles.read_live(pidfiles.pidfile(self.state_dir, child.name))
            if pid is not None:
                child.pid, child.started_at = pid, time.monotonic()
                log.info("%s (pid %d) already running: adopted", child.name, pid)

    def start(self, child: Child) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{child.name}.log").open("ab") as out:
            child.popen = subprocess.Popen(
                child.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        child.pid, child.started_at = child.popen.pid, time.monotonic()
        pidfiles.write(pidfiles.pidfile(self.state_dir, child.name), child.pid)
        log.info("%s started (pid %d)", child.name, child.pid)

    def check(self, child: Child, now: float) -> None:
        """Starts ``child`` if it is due, or notices that it ended and schedules its restart."""
        if child.pid is None:
            if now >= child.start_at:
                self.start(child)
            return
        ended, code = child.exit_status()
        if not ended:
            return
        ran = now - child.started_at
        child.quick_failures = 1 if ran >= STABLE_AFTER_S else child.quick_failures + 1
        delay = restart_delay(child.quick_failures)
        child.restarts.append(now)
        while child.restarts and child.restarts[0] < now - _RECENT_S:
            child.restarts.popleft()
        log.warning(
            "%s (pid %d) %s after %.1f s; restarting in %.1f s"
            " (%d restart(s) in the last hour, %d quick failure(s) in a row)",
            child.name,
            child.pid,
            describe_exit(code),
            ran,
            delay,
            len(child.restarts),
            child.quick_failures,
        )
        pidfiles.remove_if_ours(pidfiles.pidfile(self.state_dir, child.name), child.pid)
        child.pid, child.popen, child.start_at = None, None, now + delay

    def run(self, stop: threading.Event) -> None:
        self.adopt()
        while not stop.is_set():
            now = time.monotonic()
            for child in self.children:
                self.check(child, now)
            stop.wait(POLL_S)
        self.stop_all()

    def stop_all(self) -> None:
        """Stops the processes in reverse start order, each given ``STOP_TIMEOUT_S`` to finish its work."""
        for child in reversed(self.children):
            if child.pid is None:
                continue
            stop_process(child.pid, child.popen)
            log.info("%s (pid %d) stopped", child.name, child.pid)
            pidfiles.remove_if_ours(pidfiles.pidfile(self.state_dir, child.name), child.pid)


def stop_process(pid: int, popen: subprocess.Popen[bytes] | None = None, *, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if ``pid`` is still running after ``timeout`` seconds."""

    def ended() -> bool:
        return popen.poll() is not None if popen is not None else not pidfiles.is_vward_process(pid)

    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while not ended() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not ended():
            log.warning("pid %d did not stop within %.0f s: killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            if popen is not None:
                popen.wait()
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> None:
    """``python -m vward.supervisor STATE_DIR SPEC_JSON``: what ``vward up`` runs; it detaches (forks and
    returns at once), so the supervisor belongs to no terminal and no caller has to wait for it."""
    state_dir, spec = Path(argv[0]), json.loads(argv[1])
    registered_r, registered_w = os.pipe()
    if os.fork() > 0:
        # Return only once the detached child has its pid file, so a caller that finds its processes
        # already running (adopted) never sees a moment without a registered supervisor.
        os.close(registered_w)
        os._exit(0 if os.read(registered_r, 1) == b"1" else 1)
    os.close(registered_r)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _frame: stop.set())
    pidfiles.register_self(state_dir, SUPERVISOR)
    os.write(registered_w, b"1")
    os.close(registered_w)
    log.info("supervising %s", ", ".join(spec))
    Supervisor(state_dir, spec).run(stop)
    log.info("supervisor stopped")


if __name__ == "__main__":
    main(sys.argv[1:])
