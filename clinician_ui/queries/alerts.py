"""Reads of the alert queue and of one alert, limited to the wards a user works on."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

_RISK_RANK = (
    "CASE a.risk WHEN 'emergency' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3 WHEN 'low-medium' THEN 2 ELSE 1 END"
)

_ALERT_COLUMNS = (
    "a.id, a.admission_id, a.trigger, a.risk, a.status, a.news2_total, a.news2_complete, a.sub_scores,"
    " a.observed_at, a.raised_at, a.acknowledge_due_at, a.response_due_at, a.acknowledged_at, a.responded_at,"
    " a.response_kind, a.resolved_at, a.escalation_level, a.escalated_at, a.snoozed_until, a.snooze_reason,"
    " a.updated_at, ad.ward_id, w.name AS ward_name, w.code AS ward_code, p.id AS patient_id,"
    " p.given_name || ' ' || p.family_name AS patient_name, p.nhs_number,"
    " a.score, a.npews_total, a.npews_complete, a.reason, a.awaiting_grade, a.graded_at,"
    " ep.plan AS escalation_plan, ep.hospital_transfer AS plan_allows_transfer, ep.review_on AS plan_review_on"
)
_FROM = (
    " FROM alerts a JOIN admissions ad ON ad.id = a.admission_id JOIN wards w ON w.id = ad.ward_id"
    " JOIN patients p ON p.id = ad.patient_id"
    " LEFT JOIN escalation_plans ep ON ep.admission_id = a.admission_id AND ep.superseded_at IS NULL"
)


def open_queue(conn: psycopg.Connection, *, ward_ids: list[int]) -> list[dict[str, Any]]:
    """Open alerts of these wards: highest risk first, then the longest waiting."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_ALERT_COLUMNS}{_FROM} WHERE a.status <> 'resolved' AND ad.ward_id = ANY(%s)"
            f" ORDER BY {_RISK_RANK} DESC, a.raised_at, a.id",
            (ward_ids,),
        )
        .fetchall()
    )


def get_alert(conn: psycopg.Connection, alert_id: int, *, ward_ids: list[int]) -> dict[str, Any] | None:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {_ALERT_COLUMNS}{_FROM} WHERE a.id = %s AND ad.ward_id = ANY(%s)", (alert_id, ward_ids))
        .fetchone()
    )


def history(conn: psycopg.Connection, admission_id: int) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_ALERT_COLUMNS}{_FROM} WHERE a.admission_id = %s ORDER BY a.raised_at DESC",
            (admission_id,),
        )
        .fetchall()
    )


def notes(conn: psycopg.Connection, *, admission_id: int) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT n.id, n.alert_id, n.at, n.body, u.display_name AS author FROM alert_notes n"
            " JOIN alerts a ON a.id = n.alert_id JOIN users u ON u.id = n.author_id"
            " WHERE a.admission_id = %s ORDER BY n.at DESC",
            (admission_id,),
        )
        .fetchall()
    )
