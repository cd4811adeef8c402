"""The web push payload: what a lock screen shows (no patient-identifiable data)."""

from __future__ import annotations

from alerting.push import build_push_payload

ROW = {
    "alert_id": 12,
    "event": "escalated",
    "risk": "high",
    "trigger": "news2",
    "news2_total": 8,
    "news2_complete": False,
    "ward_name": "Frailty virtual ward",
    "escalation_level": 2,
    "status": "raised",
    "ward_id": 5,
}


def test_payload_names_ward_risk_and_partial_score() -> None:
    p = build_push_payload(ROW)
    assert p["title"] == "Alert escalated: high risk"
    assert p["body"] == "Frailty virtual ward: high risk, NEWS2 8 (partial) (news2), escalation level 2"
    assert (p["tag"], p["url"], p["alert_id"], p["renotify"]) == ("alert-12", "/alerts/12", 12, True)


def test_missed_readings_payload_has_no_score() -> None:
    p = build_push_payload(
        {
            **ROW,
            "event": "raised",
            "trigger": "missed_readings",
            "news2_total": None,
            "news2_complete": None,
            "risk": "low",
            "escalation_level": 0,
        }
    )
    assert p["title"] == "New alert: low risk"
    assert p["body"] == "Frailty virtual ward: low risk, no recent readings (missed readings)"
    assert p["renotify"] is False
