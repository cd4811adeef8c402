"""Outage warnings: one per key per interval, the rest counted and reported with the next."""

from __future__ import annotations

import logging

import pytest

from alerting.throttle import WarningThrottle


def test_one_warning_a_minute_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttle = WarningThrottle(logging.getLogger("t"), interval_s=60, clock=lambda: now[0])
    logged = []
    for second in range(0, 125):
        now[0] = float(second)
        logged.append(throttle.warning("redis", "Redis down (%s)", "ConnectionError"))
    assert [s for s, ok in enumerate(logged) if ok] == [0, 60, 120]
    assert throttle.warning("postgres", "PostgreSQL down")  # another key has its own minute
    assert [r.getMessage() for r in caplog.records] == [
        "Redis down (ConnectionError)",
        "Redis down (ConnectionError) (59 more like this since the last)",
        "Redis down (ConnectionError) (59 more like this since the last)",
        "PostgreSQL down",
    ]
