"""Which early warning score applies to a set of observations: the one rule, in one place.

NEWS2 is validated from 16 years, so a patient who is 16 or over on the day of admission is scored with
NEWS2 for that whole admission (the rule ``vward_news2_applies`` in migration 0006 states in SQL). Anyone
younger is scored with the national PEWS, on the chart of their age band on the day of the observation,
so a child who has a birthday on the ward moves band at midnight and stays on PEWS past 16.

Days are UTC calendar days, as in migration 0006. A birthday is counted as PostgreSQL's
``date + interval 'n years'`` does: on its date, and for 29 February in a common year on 28 February.
Keeping the two the same means the database and this module can never disagree about a patient.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from alerting.errors import AlertingError
from alerting.npews import AGE_BANDS

ADULT_YEARS = 16
_BAND_STARTS_YEARS = (1, 5, 13)  # the first birthday of age bands 1-4, 5-12 and 13+


class AgeError(AlertingError, ValueError):
    """A date of birth after the day it is asked about."""


@dataclass(frozen=True)
class ScoreChoice:
    """The score for one observation; ``age_band`` indexes ``AGE_BANDS`` and is None for NEWS2."""

    score: Literal["news2", "npews"]
    age_band: int | None

    @property
    def label(self) -> str:
        """In words, for the patient page: e.g. "NPEWS, 1-4 years chart"."""
        if self.age_band is None:
            return "NEWS2"
        return f"NPEWS, {AGE_BANDS[self.age_band]} chart"


def utc_day(at: datetime) -> date:
    """The calendar day of a timestamp, as the rule counts days (UTC, like migration 0006)."""
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no day; give it a time zone")
    return at.astimezone(UTC).date()


def anniversary(date_of_birth: date, years: int) -> date:
    """The ``years``-th birthday; 29 February falls on 28 February in a common year, as in PostgreSQL."""
    year = date_of_birth.year + years
    day = min(date_of_birth.day, calendar.monthrange(year, date_of_birth.month)[1])
    return date(year, date_of_birth.month, day)


def has_reached(date_of_birth: date, years: int, on: date) -> bool:
    """Whether the child is ``years`` old or more on day ``on``."""
    if on < date_of_birth:
        raise AgeError(f"date of birth {date_of_birth} is after {on}")
    return anniversary(date_of_birth, years) <= on


def age_band(date_of_birth: date, on: date) -> int:
    """The NPEWS age band (index into ``AGE_BANDS``) of a child on day ``on``."""
    return sum(has_reached(date_of_birth, years, on) for years in _BAND_STARTS_YEARS)


def age_band_of_months(months: int) -> int:
    """The NPEWS age band of an age given in completed months (0-11, 12-59, 60-155, 156 and over)."""
    if months < 0:
        raise AgeError(f"age in months must not be negative, got {months}")
    return sum(months >= 12 * years for years in _BAND_STARTS_YEARS)


def news2_applies(date_of_birth: date, admitted_on: date) -> bool:
    """Adult on the day of admission: the same rule as ``vward_news2_applies`` in SQL."""
    return has_reached(date_of_birth, ADULT_YEARS, admitted_on)


def choose_score(*, date_of_birth: date, admitted_on: date, observed_on: date) -> ScoreChoice:
    """NEWS2 for an adult admission; otherwise NPEWS on the chart of the child's age band that day."""
    if news2_applies(date_of_birth, admitted_on):
        return ScoreChoice(score="news2", age_band=None)
    return ScoreChoice(score="npews", age_band=age_band(date_of_birth, observed_on))
