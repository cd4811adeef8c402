"""Turns one MQTT message into readings to store or a quarantine reason. Pure: no broker, database or clock.

Every way a message can be refused has a named reason (the quarantine table's ``reason`` and the
``vward_ingest_quarantined_total{reason=...}`` metric), so a clinical safety officer can see what was
refused and why. In a batch each reading is judged alone: a bad one is refused with its reason and the
good ones go on to be stored. Duplicate JSON keys are refused (a parser would silently keep one value).
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import ValidationError

from readings.validation import TimeLimits, check_time
from vward.contract import Reading, ReadingBatch, ReadingBatchEnvelope, device_id_from_topic


class Reason(StrEnum):
    BAD_TOPIC = "bad_topic"
    OVERSIZED = "oversized_payload"
    MALFORMED_JSON = "malformed_json"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_FIELD = "unknown_field"
    DUPLICATE_KEY = "duplicate_key"
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
# A key in JSON text is a string followed by a colon. The contract's string values (a time, an ACVPU
# letter) can hold neither an escaped quote nor a colon after one, so in a message that validates this
# counts its keys exactly.
_KEY = re.compile(rb'"\s*:')
_SPACED_KEY = re.compile(rb'"\s+:')


def _key_count(payload: bytes) -> int:
    """How many keys the JSON text names: a byte count when no whitespace comes before a colon (the usual
    case, ten times faster than the regular expression)."""
    if _SPACED_KEY.search(payload):
        return len(_KEY.findall(payload))
    return payload.count(b'":')


class Parsed(NamedTuple):
    """A readable message: its device, the readings that are well-formed, and each refused one's reason."""

    device_id: str
    readings: list[Reading]
    rejected: list[Rejection]


def parse_payload(topic: str, payload: bytes, *, max_payload_bytes: int) -> Parsed | Rejection:
    """The device id and readings in a message, or why the message cannot be read at all.

    The fast path validates the whole message at once; a batch that fails, or any message whose key
    count betrays a duplicate key, is taken apart and judged reading by reading.
    """
    device_id = _device_id_from_topic(topic)
    if device_id is None:
        return Rejection(Reason.BAD_TOPIC, f"not a readings topic: {topic[:200]!r}")
    if len(payload) > max_payload_bytes:
        return Rejection(Reason.OVERSIZED, f"{len(payload)} bytes > {max_payload_bytes}", device_id)
    # Only a batch has a "readings" key; a bare reading holding that text is refused either way.
    batch = b'"readings"' in payload
    try:
        readings = (
            ReadingBatch.model_validate_json(payload).readings if batch else [Reading.model_validate_json(payload)]
        )
    except ValidationError as exc:
        return _parse_each(device_id, payload) if batch else _rejection_from(exc, device_id)
    keys = batch + sum(len(reading.model_fields_set) for reading in readings)
    if _key_count(payload) != keys:
        return _parse_each(device_id, payload)
    return Parsed(device_id, readings, [])


class _DuplicateKeys(dict[str, Any]):
    """A JSON object that named a key twice, kept with every pair as written."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs
        self.names = sorted(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    return obj if len(obj) == len(pairs) else _DuplicateKeys(pairs)


def _json(value: Any) -> str:
    """JSON text of a decoded value, duplicate keys included, so the quarantined copy shows what was sent."""
    if isinstance(value, _DuplicateKeys):
        return "{" + ",".join(f"{json.dumps(k)}:{_json(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json(v) for v in value) + "]"
    return json.dumps(value)


def _duplicates_in(value: Any) -> list[str]:
    if isinstance(value, _DuplicateKeys):
        return value.names
    if isinstance(value, dict):
        return [name for v in value.values() for name in _duplicates_in(v)]
    if isinstance(value, list):
        return [name for v in value for name in _duplicates_in(v)]
    return []


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_each(device_id: str, payload: bytes) -> Parsed | Rejection:
    """The slow path: the message's envelope is checked, then each reading alone."""
    try:
        document = json.loads(payload, object_pairs_hook=_object, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        return Rejection(Reason.MALFORMED_JSON, f"message: {exc}"[:500], device_id)
    if isinstance(document, _DuplicateKeys):
        return Rejection(Reason.DUPLICATE_KEY, f"message: duplicate key {', '.join(document.names)}", device_id)
    if not isinstance(document, dict) or "readings" not in document:
        return _judge(document, "", device_id, raw=None)
    try:
        items = ReadingBatchEnvelope.model_validate(document).readings
    except ValidationError as exc:
        return _rejection_from(exc, device_id)
    readings: list[Reading] = []
    rejected: list[Rejection] = []
    for i, item in enumerate(items):
        judged = _judge(item, f"readings.{i}", device_id, raw=_json(item).encode())
        if isinstance(judged, Rejection):
            rejected.append(judged)
        else:
            readings.extend(judged.readings)
    return Parsed(device_id, readings, rejected)


def _judge(item: Any, where: str, device_id: str, *, raw: bytes | None) -> Parsed | Rejection:
    """One decoded reading as a ``Reading``, or why not (``raw``: its own text, when it is part of a batch)."""
    if duplicated := _duplicates_in(item):
        detail = f"{where or 'message'}: duplicate key {', '.join(duplicated)}"
        return Rejection(Reason.DUPLICATE_KEY, detail, device_id, raw)
    try:
        return Parsed(device_id, [Reading.model_validate_json(_json(item))], [])
    except ValidationError as exc:
        return _rejection_from(exc, device_id, where=where, raw=raw)


def _rejection_from(exc: ValidationError, device_id: str, *, where: str = "", raw: bytes | None = None) -> Rejection:
    first = exc.errors(include_url=False, include_input=False)[0]
    reason = _ERROR_REASONS.get(first["type"], Reason.WRONG_TYPE)
    at = ".".join([where] * bool(where) + [str(part) for part in first["loc"]]) or "message"
    return Rejection(reason, f"{at}: {first['msg']}"[:500], device_id, raw)


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
