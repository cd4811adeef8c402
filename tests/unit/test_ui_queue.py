"""Pure helpers of the live queue: the next response target, snooze state, SSE ids, ward filter, formatting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from clinician_ui.queue import annotate, next_target
from clinician_ui.sse import format_event, valid_stream_id, visible

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
ACK, RESP = NOW + timedelta(minutes=5), NOW + timedelta(minutes=30)


def test_next_target_follows_the_lifecycle() -> None:
    assert next_target("raised", ACK, RESP) == ("acknowledge", ACK)
    assert next_target("acknowledged", ACK, RESP) == ("respond", RESP)
    assert next_target("responded", ACK, RESP) == ("", None)


def test_annotate_marks_overdue_snoozed_and_labels_sub_scores() -> None:
    row = {
        "status": "raised",
        "acknowledge_due_at": NOW - timedelta(minutes=1),
        "response_due_at": RESP,
        "sub_scores": [3, 0, 2, None, 1, 0, 0],
        "snoozed_until": NOW + timedelta(minutes=10),
    }
    out = annotate(row, NOW)
    assert out["overdue"] is True and out["snoozed"] is True
    assert out["subs"][0] == ("RR", 3) and out["subs"][3] == ("SBP", None)
    assert annotate({**row, "snoozed_until": NOW - timedelta(seconds=1)}, NOW)["snoozed"] is False


def test_stream_ids_are_checked() -> None:
    assert valid_stream_id("1700000000000-3") == "1700000000000-3"
    for bad in (None, "", "$", "0", "1-2-3", "1-x", "1\n2-3"):
        assert valid_stream_id(bad) is None


def test_events_are_filtered_by_ward_and_carry_the_stream_id() -> None:
    fields = {"event_id": "9", "alert_id": "4", "ward_id": "2", "risk": "high", "notify": "nurses"}
    assert visible(fields, [1, 2]) and not visible(fields, [3]) and not visible({"ward_id": ""}, [1])
    msg = format_event("5-0", fields)
    assert msg.startswith("id: 5-0\nevent: alert\ndata: ") and msg.endswith("\n\n")
    data = json.loads(msg.split("data: ", 1)[1])
    assert data["alert_id"] == "4" and "notify" not in data
