"""Pure parsing of FHIR search parameters into typed values the queries take.

Dates follow FHIR's prefixes: ``ge``/``le``/``gt``/``lt``/``eq`` (none means ``eq``) against the range the
parameter's precision implies (a day, or a single instant for a full date-time). Every comparison becomes a
half-open bound ``start <= measured_at < end``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fhir_r4 import codes
from fhir_r4.errors import BadRequest

DEFAULT_COUNT = 50
MAX_COUNT = 200
_PREFIX_RE = re.compile(r"^(eq|ge|le|gt|lt)?(.+)$")
_REF_RE = re.compile(r"^(?:(?:.*/)?(Patient|Encounter)/)?([0-9]{1,18})$")


@dataclass(frozen=True)
class TimeBounds:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


@dataclass(frozen=True)
class Paging:
    count: int
    offset: int


def _range(value: str) -> tuple[datetime, datetime]:
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start, start + timedelta(days=1)
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        end = at + timedelta(microseconds=1)
    except (ValueError, OverflowError) as exc:  # OverflowError: the last day or instant of year 9999
        raise BadRequest(f"date: {value!r} is not a FHIR date or dateTime") from exc
    if at.tzinfo is None:
        raise BadRequest(f"date: {value!r} needs a time zone (e.g. Z)")
    return at, end


def time_bounds(values: list[str]) -> TimeBounds:
    """The intersection of every ``date`` parameter given (``date=ge..&date=le..``)."""
    start: datetime | None = None
    end: datetime | None = None
    for raw in values:
        m = _PREFIX_RE.match(raw)
        assert m is not None
        prefix, lo_hi = m.group(1) or "eq", _range(m.group(2))
        lo, hi = lo_hi
        new_start, new_end = {
            "eq": (lo, hi),
            "ge": (lo, None),
            "gt": (hi, None),
            "le": (None, hi),
            "lt": (None, lo),
        }[prefix]
        if new_start is not None:
            start = new_start if start is None else max(start, new_start)
        if new_end is not None:
            end = new_end if end is None else min(end, new_end)
    return TimeBounds(start, end)


def reference_id(value: str, name: str, resource_type: str) -> int:
    """The numeric id in ``123``, ``Patient/123`` or a full URL ending in it."""
    m = _REF_RE.match(value.strip())
    if m is None or (m.group(1) is not None and m.group(1) != resource_type):
        raise BadRequest(f"{name}: {value!r} is not a {resource_type} reference")
    return int(m.group(2))


def token(value: str) -> tuple[str | None, str]:
    """``system|code`` or a bare ``code`` (any system)."""
    if "|" in value:
        system, code = value.split("|", 1)
        return (system or None), code
    return None, value


def observation_kinds(values: list[str]) -> tuple[str, ...]:
    """The Observation kinds a ``code`` parameter selects (a comma means OR); every kind when absent."""
    if not values:
        return codes.OBSERVATION_KINDS
    wanted = [token(part) for v in values for part in v.split(",") if part]
    by_kind = codes.codes_by_kind()
    selected: set[str] = set()
    for kind, known in by_kind.items():
        for system, code in wanted:
            if any(code == k_code and (system is None or system == k_system) for k_system, k_code in known):
                selected.add(kind)
    return tuple(k for k in codes.OBSERVATION_KINDS if k in selected)


def nhs_number(value: str) -> str:
    system, code = token(value)
    if system not in (None, codes.NHS_NUMBER):
        raise BadRequest(f"identifier: only the NHS number system {codes.NHS_NUMBER} is searchable")
    if not re.fullmatch(r"[0-9]{10}", code):
        raise BadRequest("identifier: an NHS number is ten digits")
    return code


def paging(count: str | None, offset: str | None) -> Paging:
    try:
        c = DEFAULT_COUNT if count is None else int(count)
        o = 0 if offset is None else int(offset)
    except ValueError as exc:
        raise BadRequest("_count and _offset are whole numbers") from exc
    if c < 0 or o < 0:
        raise BadRequest("_count and _offset cannot be negative")
    return Paging(min(c, MAX_COUNT), o)
