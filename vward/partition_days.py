"""Which daily readings partitions must exist: one rule for ``vward migrate``, ingest and the tests alike.

Pure: no database and no clock (``now`` is given)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def first_partition_day(now: datetime, late_window: timedelta) -> date:
    """The first day whose partition must exist at ``now``: the UTC day of the oldest reading any door still
    accepts (measured ``late_window`` ago), less one day. Partitions run from the database's midnight
    (``vward_maintain_readings`` casts each day in the session's time zone, e.g. Europe/London), which is
    never a whole day away from UTC's, so the spare day covers the oldest reading's partition in any zone."""
    return (now.astimezone(UTC) - late_window).date() - timedelta(days=1)
