"""Reads of the alert queue and of one alert, limited to the wards a user works on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from vward.config import Settings

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
    " ep.plan AS escalation_plan, ep.hospital_transfer AS plan_allows_transfer, ep.review_on AS plan_review_on,"
    " p.date_of_birth, p.sex, ad.spo2_scale, ad.admitted_at, w.expected_reading_minutes, os.last_reading_at,"
    " ua.display_name AS acknowledged_by_name, ur.display_name AS responded_by_name,"
    " uz.display_name AS resolved_by_name, us.display_name AS snoozed_by_name,"
    " cur.measured_at AS now_measured_at, cur.news2_total AS now_news2_total,"
    " cur.news2_complete AS now_news2_complete, cur.npews_total AS now_npews_total,"
    " cur.npews_complete AS now_npews_complete, base.usual AS trend_baseline,"
    " extract(epoch FROM %(window)s::interval)::int / 3600 AS trend_baseline_hours"
)
_FROM = (
    " FROM alerts a JOIN admissions ad ON ad.id = a.admission_id JOIN wards w ON w.id = ad.ward_id"
    " JOIN patients p ON p.id = ad.patient_id"
    " LEFT JOIN escalation_plans ep ON ep.admission_id = a.admission_id AND ep.superseded_at IS NULL"
    " LEFT JOIN observation_state os ON os.admission_id = a.admission_id"
    " LEFT JOIN users ua ON ua.id = a.acknowledged_by LEFT JOIN users ur ON ur.id = a.responded_by"
    " LEFT JOIN users uz ON uz.id = a.resolved_by LEFT JOIN users us ON us.id = a.snoozed_by"
    # How bad now: the newest stored set's score, which may have moved since the alert was raised.
    " LEFT JOIN LATERAL (SELECT r.measured_at, r.news2_total, r.news2_complete, r.npews_total, r.npews_complete"
    "  FROM readings r WHERE r.admission_id = a.admission_id ORDER BY r.measured_at DESC LIMIT 1) cur ON true"
    # A trend alert's baseline, computed as alerting.raising does: the median complete total in the window
    # before the confirm window that ends at the set that raised it.
    " LEFT JOIN LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r.news2_total) AS usual"
    "  FROM readings r WHERE a.trigger = 'trend' AND r.admission_id = a.admission_id AND r.news2_complete"
    "  AND r.measured_at >= a.observed_at - %(confirm)s::interval - %(window)s::interval"
    "  AND r.measured_at < a.observed_at - %(confirm)s::interval) base ON true"
)
# Next target time, for "sorted by risk then breach": the nearest breach first within a band.
_DUE = "CASE a.status WHEN 'raised' THEN a.acknowledge_due_at WHEN 'acknowledged' THEN a.response_due_at END"


@dataclass(frozen=True)
class TrendWindows:
    """The trend rule's windows (settings.trend_baseline_window, trend_confirm_window); without them a trend
    alert's baseline is not read."""

    baseline: timedelta
    confirm: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> TrendWindows:
        return cls(settings.trend_baseline_window, settings.trend_confirm_window)


def _params(windows: TrendWindows | None, **more: Any) -> dict[str, Any]:
    return {"window": windows and windows.baseline, "confirm": windows and windows.confirm, **more}


def open_queue(
    conn: psycopg.Connection, *, ward_ids: list[int], windows: TrendWindows | None = None
) -> list[dict[str, Any]]:
    """Open alerts of these wards: highest risk first, then the nearest breach of its target, then the longest
    waiting."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_ALERT_COLUMNS}{_FROM} WHERE a.status <> 'resolved' AND ad.ward_id = ANY(%(wards)s)"
            f" ORDER BY {_RISK_RANK} DESC, {_DUE} NULLS LAST, a.raised_at, a.id",
            _params(windows, wards=ward_ids),
        )
        .fetchall()
    )


def get_alert(
    conn: psycopg.Connection, alert_id: int, *, ward_ids: list[int], windows: TrendWindows | None = None
) -> dict[str, Any] | None:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_ALERT_COLUMNS}{_FROM} WHERE a.id = %(id)s AND ad.ward_id = ANY(%(wards)s)",
            _params(windows, id=alert_id, wards=ward_ids),
        )
        .fetchone()
    )


def history(
    conn: psycopg.Connection, admission_id: int, *, windows: TrendWindows | None = None
) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_ALERT_COLUMNS}{_FROM} WHERE a.admission_id = %(id)s ORDER BY a.raised_at DESC",
            _params(windows, id=admission_id),
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


def timeline(conn: psycopg.Connection, *, admission_id: int) -> list[dict[str, Any]]:
    """Every transition of this admission's alerts, newest first, with who made it (None: the system)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT e.at, e.event, e.alert_id, e.to_status, e.risk, e.note, a.trigger, u.display_name AS actor"
            " FROM alert_events e JOIN alerts a ON a.id = e.alert_id LEFT JOIN users u ON u.id = e.actor_id"
            " WHERE a.admission_id = %s ORDER BY e.at DESC, e.id DESC LIMIT 200",
            (admission_id,),
        )
        .fetchall()
    )


def open_counts(conn: psycopg.Connection, *, ward_ids: list[int]) -> list[tuple[str, int, int]]:
    """(risk, open alerts, of them still awaiting acknowledgement) on the user's wards: the header's counts."""
    rows = conn.execute(
        "SELECT a.risk, count(*), count(*) FILTER (WHERE a.status = 'raised')"
        " FROM alerts a JOIN admissions ad ON ad.id = a.admission_id"
        " WHERE a.status <> 'resolved' AND ad.ward_id = ANY(%s) GROUP BY a.risk",
        (ward_ids,),
    ).fetchall()
    return [(str(risk), int(n), int(raised)) for risk, n, raised in rows]
