"""Which score applies: age bands on the day of the observation, birthdays at midnight, 29 February, adults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from alerting.npews import AGE_BANDS
from alerting.score_choice import (
    AgeError,
    ScoreChoice,
    age_band,
    age_band_of_months,
    anniversary,
    choose_score,
    news2_applies,
    utc_day,
)

BORN = date(2020, 6, 15)


@pytest.mark.parametrize(
    ("on", "band"),
    [
        (BORN, 0),
        (date(2021, 6, 14), 0),  # 11 months and 30 days
        (date(2021, 6, 15), 1),  # first birthday
        (date(2025, 6, 14), 1),  # still 4
        (date(2025, 6, 15), 2),  # fifth birthday
        (date(2033, 6, 14), 2),  # still 12
        (date(2033, 6, 15), 3),  # thirteenth birthday
        (date(2040, 1, 1), 3),
    ],
)
def test_age_band_moves_on_the_birthday(on: date, band: int) -> None:
    assert age_band(BORN, on) == band


def test_a_birthday_on_the_ward_moves_the_band_at_midnight() -> None:
    """Two observations a minute apart either side of UTC midnight on the fifth birthday."""
    before = datetime(2025, 6, 14, 23, 59, tzinfo=UTC)
    after = before + timedelta(minutes=2)
    choices = [
        choose_score(date_of_birth=BORN, admitted_on=date(2025, 6, 10), observed_on=utc_day(t)) for t in (before, after)
    ]
    assert choices == [ScoreChoice("npews", 1), ScoreChoice("npews", 2)]
    assert [c.label for c in choices] == ["NPEWS, 1-4 years chart", "NPEWS, 5-12 years chart"]


def test_the_day_is_the_utc_day_whatever_the_offset_given() -> None:
    assert utc_day(datetime(2025, 6, 15, 0, 30, tzinfo=timezone(timedelta(hours=1)))) == date(2025, 6, 14)
    with pytest.raises(ValueError, match="naive"):
        utc_day(datetime(2025, 6, 15, 0, 30))


LEAPLING = date(2020, 2, 29)


@pytest.mark.parametrize(
    ("on", "band"),
    [
        (date(2021, 2, 27), 0),
        (date(2021, 2, 28), 1),  # first birthday in a common year: 28 February, as PostgreSQL counts it
        (date(2025, 2, 27), 1),
        (date(2025, 2, 28), 2),
        (date(2033, 2, 27), 2),
        (date(2033, 2, 28), 3),
    ],
)
def test_29_february_birthdays_fall_on_28_february_in_common_years(on: date, band: int) -> None:
    assert age_band(LEAPLING, on) == band


def test_29_february_birthdays_fall_on_the_day_in_leap_years() -> None:
    assert anniversary(LEAPLING, 4) == date(2024, 2, 29)
    assert (age_band(date(2019, 2, 28), date(2024, 2, 28)), age_band(LEAPLING, date(2025, 2, 28))) == (2, 2)
    assert age_band(date(2019, 2, 28), date(2024, 2, 27)) == 1


@pytest.mark.parametrize(("months", "band"), [(0, 0), (11, 0), (12, 1), (59, 1), (60, 2), (155, 2), (156, 3), (240, 3)])
def test_age_band_from_completed_months(months: int, band: int) -> None:
    assert age_band_of_months(months) == band
    assert AGE_BANDS[band]


def test_negative_ages_are_refused() -> None:
    with pytest.raises(AgeError):
        age_band_of_months(-1)
    with pytest.raises(AgeError, match="after"):
        age_band(BORN, date(2020, 6, 14))


ADULT_BORN = date(2008, 3, 10)


@pytest.mark.parametrize(
    ("admitted_on", "expected"), [(date(2024, 3, 9), False), (date(2024, 3, 10), True), (date(2030, 1, 1), True)]
)
def test_news2_from_the_sixteenth_birthday_on_admission(admitted_on: date, expected: bool) -> None:
    assert news2_applies(ADULT_BORN, admitted_on) is expected


def test_sixteen_on_admission_scores_news2_whatever_the_day_of_observation() -> None:
    choice = choose_score(date_of_birth=ADULT_BORN, admitted_on=date(2024, 3, 10), observed_on=date(2024, 3, 10))
    assert (choice, choice.label) == (ScoreChoice("news2", None), "NEWS2")


def test_a_child_admitted_at_15_stays_on_npews_after_turning_16_on_the_ward() -> None:
    choice = choose_score(date_of_birth=ADULT_BORN, admitted_on=date(2024, 3, 9), observed_on=date(2024, 3, 11))
    assert choice == ScoreChoice("npews", 3)


def test_29_february_sixteenth_birthday_in_a_common_year_matches_postgresql() -> None:
    """PostgreSQL: date '2084-02-29' + interval '16 years' = 2100-02-28 (2100 is not a leap year)."""
    born = date(2084, 2, 29)
    assert (news2_applies(born, date(2100, 2, 27)), news2_applies(born, date(2100, 2, 28))) == (False, True)
