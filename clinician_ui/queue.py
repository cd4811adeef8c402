"""What a queue row shows beyond its columns: the next response target, snooze state, labelled sub-scores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerting.escalation_plans import response_kinds

SUB_SCORE_LABELS = ("RR", "SpO2", "Air/O2", "SBP", "Pulse", "ACVPU", "Temp")
NPEWS_SUB_SCORE_LABELS = ("RR", "Resp. distress", "SpO2", "O2", "HR", "SBP", "CRT")


def next_target(
    status: str, acknowledge_due_at: datetime | None, response_due_at: datetime | None
) -> tuple[str, datetime | None]:
    """The target the nurse is racing now: acknowledgement while raised, clinical response until responded."""
    if status == "raised":
        return "acknowledge", acknowledge_due_at
    if status == "acknowledged":
        return "respond", response_due_at
    return "", None


def annotate(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A copy of an alert row with ``target``, ``due_at``, ``overdue``, ``snoozed``, ``subs`` (labelled by the
    alert's score) and ``response_kinds`` (what the patient's escalation plan allows) added."""
    target, due = next_target(row["status"], row.get("acknowledge_due_at"), row.get("response_due_at"))
    subs = row.get("sub_scores") or []
    labels = NPEWS_SUB_SCORE_LABELS if row.get("score") == "npews" else SUB_SCORE_LABELS
    snoozed_until = row.get("snoozed_until")
    return {
        **row,
        "target": target,
        "due_at": due,
        "overdue": due is not None and due <= now,
        "snoozed": snoozed_until is not None and snoozed_until > now,
        "subs": [(label, s) for label, s in zip(labels, subs, strict=False)],
        "response_kinds": response_kinds(row.get("plan_allows_transfer")),
    }
