"""Sign-in throttling, as pure rules: how long a key (an account or a client address) must wait.

A few failures in a row are free; after that each failure doubles the wait, up to a maximum. A success
clears the account's count; a key whose wait is long over starts again from nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Policy:
    free_failures: int
    base_delay: timedelta
    max_delay: timedelta


@dataclass(frozen=True)
class Counter:
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None


def delay_after(failures: int, policy: Policy) -> timedelta:
    """The wait imposed after ``failures`` failures in a row."""
    if failures < policy.free_failures:
        return timedelta(0)
    doublings = min(failures - policy.free_failures, 30)  # 2**30 × any sane base is past every maximum
    return min(policy.base_delay * (2**doublings), policy.max_delay)


def wait_left(counter: Counter | None, now: datetime) -> timedelta:
    """How long the key must still wait before another attempt is even checked (zero: go ahead)."""
    if counter is None or counter.locked_until is None or counter.locked_until <= now:
        return timedelta(0)
    return counter.locked_until - now


def after_failure(counter: Counter | None, now: datetime, policy: Policy) -> Counter:
    """The counter after one more failure; a count whose last wait ended long ago starts again."""
    stale = counter is not None and counter.last_failure_at + policy.max_delay * 2 < now
    failures = 1 if counter is None or stale else counter.failures + 1
    delay = delay_after(failures, policy)
    return Counter(failures=failures, last_failure_at=now, locked_until=now + delay if delay else None)
