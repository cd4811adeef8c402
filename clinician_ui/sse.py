"""Server-sent events from the alert stream: pure formatting and the per-user filter."""

from __future__ import annotations

import json
import re

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def valid_stream_id(value: str | None) -> str | None:
    """A Redis stream id from a header or query (``Last-Event-ID``), or None if absent or malformed."""
    return value if value and _STREAM_ID.match(value) else None


def visible(fields: dict[str, str], ward_ids: list[int]) -> bool:
    """A user gets events for alerts on her wards only."""
    try:
        return int(fields.get("ward_id", "")) in ward_ids
    except ValueError:
        return False


SHOWN_FIELDS = (
    "event_id",
    "alert_id",
    "admission_id",
    "ward_id",
    "event",
    "status",
    "risk",
    "news2_total",
    "at",
)


def format_event(entry_id: str, fields: dict[str, str]) -> str:
    """One SSE message; its id is the stream id so a reconnecting browser resumes after it."""
    data = {k: fields.get(k, "") for k in SHOWN_FIELDS}
    return f"id: {entry_id}\nevent: alert\ndata: {json.dumps(data)}\n\n"
