"""Turns one MQTT message into readings to store or a quarantine reason. Pure: no broker, database or clock.

Every way a message can be refused has a named reason (the quarantine table's ``reason`` and the
``vward_ingest_quarantined_total{reason=...}`` metric), so a clinical safety officer can see what was
refused and why.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import ValidationError

from readings.validation import TimeLimits, check_time
from vward.contract import Reading, ReadingBatch, device_id_from_topic


class Reason(StrEnum):
    BAD_TOPIC = "bad_topic"
    OVERSIZED = "oversized_payload"
    MALFORMED_JSON = "malformed_json"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_FIELD = "unknown_field"
    IMPOSSIBLE_VALUE = "impossible_value"
    FUTURE_TIMESTAMP = "future_timestamp"
    TOO_LATE = "too_late"
    BEFORE_ADMISSION = "before_admission"
    UNKNOWN_DEVICE = "unknown_device"
    UNASSIGNED_DEVICE = "unassigned_device"
    REFUSED_BY_DATABASE = "refused_by_database"


@dataclass(frozen=True, slots=True)
class DeviceAssignment:
    """What ingest needs to know about a device: is it registered, and on which active admission."""

    device_id: str
    admission_id: int | None
    admitted_at: datetime | None
    spo2_scale: int


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str
    device_id: str | None = None
    raw: bytes | None = None  # the refused part, when only part of a batch is refused


@dataclass(frozen=True, slots=True)
class Limits:
    max_payload_bytes: int
    late_window: timedelta
    future_tolerance: timedelta


_ERROR_REASONS: dict[str, Reason] = {
    "json_invalid": Reason.MALFORMED_JSON,
    "json_type": Reason.MALFORMED_JSON,
    "missing": Reason.MISSING_FIELD,
    "extra_forbidden": Reason.UNKNOWN_FIELD,
    "greater_than_equal": Reason.IMPOSSIBLE_VALUE,
    "less_than_equal": Reason.IMPOSSIBLE_VALUE,
    "value_error": Reason.IMPOSSIBLE_VALUE,
    "too_short": Reason.MISSING_FIELD,
    "too_long": Reason.OVERSIZED,
}


# Every message is on one of a few thousand device topics: match each once.
_device_id_from_topic = functools.lru_cache(maxsize=16384)(device_id_from_topic)


def parse_payload(topic: str, payload: bytes, *, max_payload_bytes: int) -> tuple[str, list[Reading]] | Rejection:
    """The device id and readings in a message, or why the message cannot be read at all."""
    device_id = _device_id_from_topic(topic)
    if device_id is None:
        return Rejection(Reason.BAD_TOPIC, f"not a readings topic: {topic[:200]!r}")
    if len(payload) > max_payload_bytes:
        return Rejection(Reason.OVERSIZED, f"{len(payload)} bytes > {max_payload_bytes}", device_id)
    try:
        # Only a batch has a "readings" key; a bare reading holding that text is refused either way.
        if b'"readings"' in payload:
            return device_id, ReadingBatch.model_validate_json(payload).readings
        return device_id, [Reading.model_validate_json(payload)]
    except ValidationError as exc:
        return _rejection_from(exc, device_id)


def _rejection_from(exc: ValidationError, device_id: str) -> Rejection:
    first = exc.errors(include_url=False, include_input=False)[0]
    reason = _ERROR_REASONS.get(first["type"], Reason.WRONG_TYPE)
    where = ".".join(str(part) for part in first["loc"]) or "message"
    return Rejection(reason, f"{where}: {first['msg']}"[:500], device_id)


def check_reading(reading: Reading, assignment: DeviceAssignment, *, now: datetime, limits: Limits) -> Reason | None:
    """Why a well-formed reading from a known, assigned device must still be refused (the reading path's checks)."""
    time_limits = TimeLimits(limits.late_window, limits.future_tolerance)
    refusal = check_time(reading.measured_at, assignment.admitted_at, now=now, limits=time_limits)
    return None if refusal is None else Reason(refusal.value)


def check_device(device_id: str, assignment: DeviceAssignment | None) -> Rejection | None:
    if assignment is None:
        return Rejection(Reason.UNKNOWN_DEVICE, f"device {device_id} is not registered", device_id)
    if assignment.admission_id is None:
        return Rejection(Reason.UNASSIGNED_DEVICE, f"device {device_id} is not on an active admission", device_id)
    return None
