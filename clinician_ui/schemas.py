"""Shared pieces of the typed API: the strict base model, bounded dates and the error answer.

Request models derive from ``StrictIn``: JSON must carry the declared types (``{"rr": true}`` is a 422,
not a rate of 1) and unknown fields are refused. Dates and times use ``Day`` and ``Moment``, bounded to a
sane range so no arithmetic on them can overflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Strict

EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)


def _day_in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


def _moment_in_range(value: datetime) -> datetime:
    _day_in_range(value.astimezone(UTC).date() if value.tzinfo else value.date())
    return value


Day = Annotated[date, Strict(False), AfterValidator(_day_in_range)]
Moment = Annotated[datetime, Strict(False), AfterValidator(_moment_in_range)]
AwareMoment = Annotated[AwareDatetime, Strict(False), AfterValidator(_moment_in_range)]


class StrictIn(BaseModel):
    """Base of every request body and query model."""

    model_config = ConfigDict(strict=True, extra="forbid")


class NoBody(StrictIn):
    """The body of an action that needs no data (the CSRF token travels in a header or form field)."""


class ErrorOut(BaseModel):
    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": what}
    for status, what in (
        (400, "Malformed body"),
        (401, "Not signed in"),
        (403, "Not allowed for this role, or missing CSRF token"),
        (404, "No such record on the user's wards"),
        (409, "Clashes with the current state"),
        (413, "Body too large"),
        (422, "Invalid input (the message names the field)"),
        (429, "Too many sign-in attempts"),
        (503, "A service this needs is down or not set up"),
    )
}
