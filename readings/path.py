"""The one path for a reading that arrives on its own (typed in by a nurse; a FHIR Observation to come).

Checks the values against the contract and the time against now, the late window and the admission
(``readings.validation``, the same checks ingest applies before it batches), then stores, scores and
raises alerts through ``readings.store`` in the caller's transaction. A refusal is a ``ReadingRefused``
that the door turns into its own answer. Ingest, which works on whole batches, applies the same checks
and calls ``readings.store.store_columns`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import psycopg
from pydantic import ValidationError

from readings.columns import AcceptedReading, ChildExtras
from readings.errors import ReadingRefused
from readings.store import StoreResult, store_readings
from readings.validation import EXPLANATIONS, Refusal, TimeLimits, check_time
from vward.config import Settings
from vward.contract import Reading


def time_limits(settings: Settings) -> TimeLimits:
    return TimeLimits(settings.ingest_late_window, settings.ingest_future_tolerance)


def accept_reading(
    conn: psycopg.Connection,
    values: Mapping[str, object],
    *,
    source: str,
    admission_id: int,
    admitted_at: datetime,
    measured_at: datetime,
    settings: Settings,
    now: datetime,
    child_extras: ChildExtras | None = None,
) -> StoreResult:
    """Validates one reading's ``values`` (vital sign -> value) from ``source`` and stores it; no commit.

    ``child_extras`` is what a visit adds for a child (hand-entered NPEWS parameters, concerns, the carer's
    answer); with them the vital signs may be empty."""
    extras = {} if child_extras is None else child_extras.model_dump(exclude_none=True)
    try:
        if values or not extras:
            reading = Reading.model_validate({**values, "measured_at": measured_at})
            vitals = reading.model_dump(exclude={"measured_at"})
        else:
            vitals = {}
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reading'}: {e['msg']}" for e in exc.errors())
        raise ReadingRefused(Refusal.IMPOSSIBLE_VALUE, detail) from exc
    refusal = check_time(measured_at, admitted_at, now=now, limits=time_limits(settings))
    if refusal is not None:
        raise ReadingRefused(refusal, EXPLANATIONS[refusal])
    accepted = AcceptedReading(
        device_id=source,
        admission_id=admission_id,
        measured_at=measured_at,
        received_at=now,
        **{**vitals, **extras},
    )
    return store_readings(conn, [accepted], settings=settings, now=now)
