"""The hub's clocks against PostgreSQL: target escalations, reminders, snooze expiry, missed readings.

Each run is one short transaction; due alerts are claimed ``FOR UPDATE SKIP LOCKED`` so several hubs can
tick at once without doing the same escalation twice. Missed readings: an admission whose last reading
(``observation_state.last_reading_at``, or its admission time before any reading) is older than its
ward's ``expected_reading_minutes`` gets a ``missed_readings`` alert (risk 'low', so the low-medium
targets apply) unless it already has an open alert or one about this same silence.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from alerting import queries
from alerting.lifecycle import Tick, raise_alert
from alerting.model import Targets
from vward.config import Settings

BATCH = 500

_SILENT_ADMISSIONS = (
    "SELECT ad.id FROM admissions ad JOIN wards w ON w.id = ad.ward_id"
    " LEFT JOIN observation_state os ON os.admission_id = ad.id"
    " WHERE ad.discharged_at IS NULL"
    "  AND coalesce(os.last_reading_at, ad.admitted_at)"
    "      < %(now)s - make_interval(mins => w.expected_reading_minutes)"
    "  AND NOT EXISTS (SELECT 1 FROM alerts al WHERE al.admission_id = ad.id AND (al.status <> 'resolved'"
    "       OR (al.trigger = 'missed_readings'"
    "           AND al.raised_at > coalesce(os.last_reading_at, ad.admitted_at))))"
    " ORDER BY ad.id LIMIT %(limit)s"
)


def run_clocks(conn: psycopg.Connection, *, settings: Settings, now: datetime) -> int:
    """Applies ``Tick`` to every alert with something due; returns how many alerts changed."""
    changed = 0
    with conn.transaction():
        for alert in queries.lock_due_alerts(conn, now=now, limit=BATCH):
            _, effects = queries.apply_event(
                conn, alert=alert, event=Tick(settings.escalation_reminder_interval), now=now
            )
            changed += bool(effects)
    return changed


def raise_missed_readings(conn: psycopg.Connection, *, settings: Settings, now: datetime) -> int:
    """Raises a missed-readings alert for each silent admission; returns how many were raised."""
    targets = Targets.from_settings(settings)
    raised = 0
    with conn.transaction():
        ids = [r[0] for r in conn.execute(_SILENT_ADMISSIONS, {"now": now, "limit": BATCH}).fetchall()]
        for admission_id in ids:
            alert, effects = raise_alert(
                admission_id=admission_id,
                trigger="missed_readings",
                risk="low",
                news2_total=None,
                news2_complete=None,
                sub_scores=None,
                observed_at=None,
                now=now,
                targets=targets,
            )
            if queries.insert_raised(conn, alert=alert, effects=effects, now=now):
                raised += 1
    return raised
