"""The supervisor's pure rules: how long to wait before a restart, and how an exit is told to an operator."""

from __future__ import annotations

import pytest

from vward.supervisor import BACKOFF_MAX_S, describe_exit, restart_delay


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
