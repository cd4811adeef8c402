"""Capacity arithmetic: utilisation, free beds, the 80% target and daily history from admission intervals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from clinician_ui import capacity as cap

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_utilisation_and_free_beds() -> None:
    assert cap.utilisation(32, 40) == pytest.approx(0.8)
    assert cap.utilisation(0, 0) == 0.0
    assert cap.free_beds(32, 40) == 8
    assert cap.free_beds(45, 40) == 0  # capacity cut below occupancy: no negative beds


@pytest.mark.parametrize(("util", "status"), [(0.5, "below"), (0.78, "on"), (0.85, "on"), (0.86, "above")])
def test_target_status(util: float, status: str) -> None:
    assert cap.target_status(util) == status


def test_totals_and_pathways_sum_the_wards() -> None:
    wards = [
        cap.WardLoad(1, "a", "A", "resp", 40, 30),
        cap.WardLoad(2, "b", "B", "resp", 22, 22),
        cap.WardLoad(3, "c", "C", "frailty", 34, 10),
    ]
    total = cap.totals(wards)
    assert (total.capacity, total.occupied, total.free) == (96, 62, 34)
    paths = {p.pathway: (p.capacity, p.occupied) for p in cap.by_pathway(wards)}
    assert paths == {"resp": (62, 52), "frailty": (34, 10)}


def test_census_days_end_today_at_now() -> None:
    census = cap.census_times(3, NOW)
    assert [d for d, _ in census] == [date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)]
    assert census[0][1] == datetime(2026, 11, 22, tzinfo=UTC)
    assert census[-1][1] == NOW


def test_occupancy_series_counts_beds_held_at_each_census() -> None:
    census = cap.census_times(3, NOW)
    intervals = [
        (NOW - timedelta(days=5), None),  # in throughout
        (NOW - timedelta(days=2), NOW - timedelta(days=1, hours=12)),  # out before the 22nd's census
        (NOW - timedelta(hours=2), None),  # admitted today
        (datetime(2026, 11, 21, 10, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)),  # left at the census
    ]
    assert cap.occupancy_series(intervals, census) == [2, 1, 2]
    assert cap.utilisation_series(intervals, census, [(1, None, 4)]) == [0.5, 0.25, 0.5]


def test_capacity_series_uses_the_beds_each_ward_had_at_each_census() -> None:
    census = cap.census_times(3, NOW)  # censuses: 22nd 00:00, 23rd 00:00, now (23rd 15:00)
    changes = [
        (2, None, 10),  # ward 2's first capacity holds since always
        (1, datetime(2026, 11, 21, 12, tzinfo=UTC), 4),  # ward 1 opened on the 21st
        (2, datetime(2026, 11, 23, 10, tzinfo=UTC), 6),  # cut this morning
        (1, datetime(2026, 11, 22, tzinfo=UTC), 8),  # grown exactly at the 22nd's census: counts for it
        (1, NOW + timedelta(seconds=1), 99),  # after the last census: never counted
    ]
    assert cap.capacity_series(changes, census) == [18, 18, 14]
    assert cap.capacity_series([], census) == [0, 0, 0]
    intervals = [(NOW - timedelta(days=5), None)] * 7
    assert cap.utilisation_series(intervals, census, changes) == [7 / 18, 7 / 18, 0.5]
