"""The rule for the first daily readings partition that must exist (``vward migrate``, ingest, tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vward.partition_days import first_partition_day

LONDON = ZoneInfo("Europe/London")


def test_the_late_window_back_then_one_more_day() -> None:
    now = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    assert first_partition_day(now, timedelta(hours=72)) == date(2026, 11, 26)
    assert first_partition_day(now, timedelta(hours=1)) == date(2026, 11, 28)
    assert first_partition_day(now, timedelta(0)) == date(2026, 11, 29)


def test_days_are_utc_days_whatever_zone_now_is_given_in() -> None:
    # 00:30 in London summer time is still the previous UTC day.
    assert first_partition_day(datetime(2026, 7, 1, 0, 30, tzinfo=LONDON), timedelta(0)) == date(2026, 6, 29)


@pytest.mark.parametrize("zone", [UTC, LONDON, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")])
@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 30, 0, 5, tzinfo=UTC),
        datetime(2026, 11, 30, 23, 55, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # the night the clocks go forward
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # and back
    ],
)
def test_the_oldest_accepted_reading_has_its_partition_in_the_databases_calendar(zone: ZoneInfo, now: datetime) -> None:
    """A partition spans one day of the database's time zone; the oldest reading still accepted falls on a day
    no earlier than the first partition, whichever zone the database counts days in."""
    window = timedelta(hours=72)
    oldest = now - window
    assert oldest.astimezone(zone).date() >= first_partition_day(now, window)
