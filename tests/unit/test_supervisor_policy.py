"""The supervisor's rules (how long to wait before a restart, how an exit is told to an operator) and its
loop on a process that keeps crashing."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import pytest

from vward.supervisor import BACKOFF_MAX_S, Supervisor, describe_exit, restart_delay


def test_back_off_doubles_with_each_quick_failure_up_to_a_ceiling() -> None:
    assert [restart_delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert restart_delay(50) == BACKOFF_MAX_S
    # A single crash is restarted well inside the 10 s that `vward up` promises.
    assert restart_delay(1) < 10


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (-9, "was killed by SIGKILL"),
        (-15, "was killed by SIGTERM"),
        (1, "exited with code 1"),
        (0, "exited with code 0"),
        (None, "exit status unknown"),
    ],
)
def test_exits_are_described_by_code_or_signal(code: int | None, said: str) -> None:
    assert said in describe_exit(code)


def test_a_crash_looping_process_is_restarted_ever_more_slowly_and_each_exit_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crasher = [sys.executable, "-c", "import sys; sys.exit(3)"]
    supervisor = Supervisor(tmp_path, {"crasher": crasher})
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="vward.supervisor")
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    thread.start()

    def restarts() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    deadline = time.monotonic() + 60  # a guard against a hang, not a measurement
    while len(restarts()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(60)
    assert not thread.is_alive()
    said = restarts()[:3]
    assert len(said) == 3, said
    for line, delay in zip(said, ("0.5", "1.0", "2.0"), strict=True):
        assert "crasher (pid " in line and "exited with code 3" in line and f"restarting in {delay} s" in line, line
    assert "3 restart(s) in the last hour" in said[2]
    assert (tmp_path / "logs" / "crasher.log").exists()
