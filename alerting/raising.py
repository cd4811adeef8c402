"""Applies the raising rules to freshly scored sets, inside ingest's transaction (the edge around ``rules``).

Ingest calls :func:`record_scores` after it stored a batch of readings and before it commits, so an alert
exists if and only if the readings that raised it were stored. Open alerts are locked ``FOR UPDATE`` so
concurrent ingest processes serialise per admission; a lost insert race (the unique open-alert index)
falls back to escalating the winner's alert. An open missed-readings alert that no set has escalated is
closed first (readings have resumed), and the new set is then judged as if no alert were open.
Readings that give no set to score (a child's: NEWS2 does not apply; or none of the seven parameters)
close it too, through :func:`close_missed_readings`: the missed-readings lifecycle is the same for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from alerting import queries
from alerting.lifecycle import ReadingsResumed, RiskIncreased, ends_with_readings, raise_alert
from alerting.model import Alert, Targets
from alerting.rules import (
    TREND_MIN_BASELINE_SETS,
    TREND_MIN_RECENT_SETS,
    Baseline,
    Escalate,
    LatestSet,
    Raise,
    decide,
    needs_baseline,
)
from vward.config import Settings

__all__ = ["LatestSet", "close_missed_readings", "record_scores"]


def record_scores(conn: psycopg.Connection, sets: Sequence[LatestSet], *, settings: Settings, now: datetime) -> None:
    """Applies the raising rules for these admissions inside the caller's transaction (no commit)."""
    latest = _newest_per_admission(sets)
    if not latest:
        return
    targets = Targets.from_settings(settings)
    open_alerts = queries.lock_open_alerts(conn, admission_ids=sorted(latest))
    for admission_id, alert in list(open_alerts.items()):
        if ends_with_readings(alert):
            queries.apply_event(conn, alert=alert, event=ReadingsResumed(latest[admission_id].observed_at), now=now)
            del open_alerts[admission_id]
    wanted = [
        s
        for s in latest.values()
        if needs_baseline(
            s,
            open_alerts[s.admission_id].risk if s.admission_id in open_alerts else None,
            settings.trend_rise_threshold,
        )
    ]
    baselines = _baselines(conn, wanted, settings=settings)
    for admission_id in sorted(latest):
        s = latest[admission_id]
        current = open_alerts.get(admission_id)
        decision = decide(
            s,
            open_risk=current.risk if current else None,
            baseline=baselines.get(admission_id),
            rise_threshold=settings.trend_rise_threshold,
        )
        if isinstance(decision, Raise):
            alert, effects = raise_alert(
                admission_id=admission_id,
                trigger=decision.trigger,
                risk=decision.risk,
                news2_total=s.total,
                news2_complete=s.complete,
                sub_scores=s.sub_scores,
                observed_at=s.observed_at,
                now=now,
                targets=targets,
            )
            if queries.insert_raised(conn, alert=alert, effects=effects, now=now):
                continue
            # Another process raised one since we looked: treat this set against its alert instead.
            current = queries.lock_open_alerts(conn, admission_ids=[admission_id])[admission_id]
            decision = decide(s, open_risk=current.risk, baseline=None, rise_threshold=settings.trend_rise_threshold)
        if isinstance(decision, Escalate) and current is not None:
            _escalate(conn, current, s, decision.risk, targets=targets, now=now)


def close_missed_readings(conn: psycopg.Connection, admission_ids: Sequence[int], *, now: datetime) -> int:
    """Closes the open missed-readings alerts of admissions whose readings were just stored unscored, inside
    the caller's transaction (after the observation state is saved); returns how many were closed."""
    if not len(admission_ids):
        return 0
    open_alerts = queries.lock_open_alerts(conn, admission_ids=sorted(admission_ids))
    resumed = {a: alert for a, alert in open_alerts.items() if ends_with_readings(alert)}
    if not resumed:
        return 0
    last: dict[int, datetime | None] = dict(
        conn.execute(
            "SELECT admission_id, last_reading_at FROM observation_state WHERE admission_id = ANY(%s)",
            (sorted(resumed),),
        ).fetchall()
    )
    for admission_id, alert in sorted(resumed.items()):
        queries.apply_event(conn, alert=alert, event=ReadingsResumed(last.get(admission_id) or now), now=now)
    return len(resumed)


def _newest_per_admission(sets: Sequence[LatestSet]) -> dict[int, LatestSet]:
    latest: dict[int, LatestSet] = {}
    for s in sets:
        if s.admission_id not in latest or s.observed_at >= latest[s.admission_id].observed_at:
            latest[s.admission_id] = s
    return latest


def _escalate(
    conn: psycopg.Connection, alert: Alert, s: LatestSet, risk: str, *, targets: Targets, now: datetime
) -> None:
    ack_due, response_due = targets.due(risk, now)
    event = RiskIncreased(
        risk=risk,
        news2_total=s.total,
        news2_complete=s.complete,
        sub_scores=s.sub_scores,
        observed_at=s.observed_at,
        acknowledge_due_at=ack_due,
        response_due_at=response_due,
    )
    queries.apply_event(conn, alert=alert, event=event, now=now)


def _baselines(conn: psycopg.Connection, sets: Sequence[LatestSet], *, settings: Settings) -> dict[int, Baseline]:
    """Usual and recent median complete NEWS2 totals per admission (see ``rules``); this batch's readings
    are already stored in the transaction, so they count as recent."""
    if not sets:
        return {}
    rows = conn.execute(
        "SELECT s.admission_id,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY r.news2_total) FILTER (WHERE r.measured_at < s.recent),"
        " count(*) FILTER (WHERE r.measured_at < s.recent),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY r.news2_total) FILTER (WHERE r.measured_at >= s.recent),"
        " count(*) FILTER (WHERE r.measured_at >= s.recent)"
        " FROM (SELECT u.admission_id, u.observed_at, u.observed_at - %(confirm)s AS recent"
        "       FROM unnest(%(ids)s::bigint[], %(ats)s::timestamptz[]) AS u(admission_id, observed_at)) s"
        " JOIN readings r ON r.admission_id = s.admission_id AND r.news2_complete"
        "  AND r.measured_at >= s.recent - %(window)s AND r.measured_at <= s.observed_at"
        " GROUP BY s.admission_id",
        {
            "ids": [s.admission_id for s in sets],
            "ats": [s.observed_at for s in sets],
            "window": settings.trend_baseline_window,
            "confirm": settings.trend_confirm_window,
        },
    ).fetchall()
    return {
        int(a): Baseline(usual=float(usual), recent=float(recent))
        for a, usual, n_usual, recent, n_recent in rows
        if n_usual >= TREND_MIN_BASELINE_SETS and n_recent >= TREND_MIN_RECENT_SETS
    }
