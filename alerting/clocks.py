"""The hub's clocks against PostgreSQL: target escalations, reminders, snooze expiry, missed readings.

Each run is one short transaction; due alerts are claimed ``FOR UPDATE SKIP LOCKED`` so several hubs can
tick at once without doing the same escalation twice, and each alert's change is its own savepoint: one
alert whose clock fails is logged and counted in ``dead_letters`` (parked after the retry limit, then
skipped until an admin retries it) while the others go on. The missed-readings sweep runs in one hub at a
time (a transaction-scoped advisory lock; the others skip it), one admission at a time.

Missed readings: an admission whose last reading (``observation_state.last_reading_at``, or its
admission time before any reading) is older than its ward's ``expected_reading_minutes`` gets a
``missed_readings`` alert (risk 'low', so the low-medium targets apply) unless it already has an open
alert or one about this same silence.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import psycopg

from alerting import dead_letters, queries
from alerting.lifecycle import Tick, raise_alert
from alerting.model import Targets
from vward.config import Settings

log = logging.getLogger(__name__)

BATCH = 500
MISSED_READINGS_LOCK = 0x76776D72  # pg advisory lock key of the missed-readings sweep ("vwmr")

_SILENT_ADMISSIONS = (
    "SELECT ad.id FROM admissions ad JOIN wards w ON w.id = ad.ward_id"
    " LEFT JOIN observation_state os ON os.admission_id = ad.id"
    " WHERE ad.discharged_at IS NULL"
    "  AND coalesce(os.last_reading_at, ad.admitted_at)"
    "      < %(now)s - make_interval(mins => w.expected_reading_minutes)"
    "  AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.kind = 'missed_readings'"
    "       AND d.ref = ad.id::text AND d.status = 'parked')"
    "  AND NOT EXISTS (SELECT 1 FROM alerts al WHERE al.admission_id = ad.id AND (al.status <> 'resolved'"
    "       OR (al.trigger = 'missed_readings'"
    "           AND al.raised_at > coalesce(os.last_reading_at, ad.admitted_at))))"
    " ORDER BY ad.id LIMIT %(limit)s"
)


def run_clocks(conn: psycopg.Connection, *, settings: Settings, now: datetime) -> int:
    """Applies ``Tick`` to every alert with something due; returns how many alerts changed."""
    changed, failed, done = 0, [], []
    with conn.transaction():
        for alert in queries.lock_due_alerts(conn, now=now, limit=BATCH):
            try:
                with conn.transaction():
                    _, effects = queries.apply_event(
                        conn, alert=alert, event=Tick(settings.escalation_reminder_interval), now=now
                    )
            except psycopg.OperationalError:
                raise  # the connection is gone: an outage, not this alert's fault
            except Exception as exc:  # one alert's failure must not stop the others' clocks
                log.error("clock of alert %s failed", alert.id, exc_info=True)
                failed.append((str(alert.id), {"alert_id": alert.id, "status": alert.status}, exc))
                continue
            done.append(str(alert.id))
            changed += bool(effects)
    _account(conn, "clock", done, failed, settings=settings, now=now)
    return changed


def raise_missed_readings(conn: psycopg.Connection, *, settings: Settings, now: datetime) -> int:
    """Raises a missed-readings alert for each silent admission; returns how many were raised (0 when
    another hub is doing this sweep right now)."""
    targets = Targets.from_settings(settings)
    raised, failed, done = 0, [], []
    with conn.transaction():
        locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (MISSED_READINGS_LOCK,)).fetchone()
        if not locked or not locked[0]:
            return 0
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
            try:
                with conn.transaction():
                    inserted = queries.insert_raised(conn, alert=alert, effects=effects, now=now)
            except psycopg.OperationalError:
                raise
            except Exception as exc:  # one admission's failure must not stop the sweep
                log.error("missed-readings alert for admission %s failed", admission_id, exc_info=True)
                failed.append((str(admission_id), {"admission_id": admission_id}, exc))
                continue
            done.append(str(admission_id))
            raised += inserted
    _account(conn, "missed_readings", done, failed, settings=settings, now=now)
    return raised


def _account(
    conn: psycopg.Connection,
    kind: str,
    done: list[str],
    failed: list[tuple[str, dict[str, Any], Exception]],
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """Counts each failure in ``dead_letters`` and forgets earlier failures of work that has now succeeded."""
    if done:
        conn.execute("DELETE FROM dead_letters WHERE kind = %s AND status = 'failing' AND ref = ANY(%s)", (kind, done))
    for ref, payload, exc in failed:
        dead_letters.record_failure(
            conn, kind=kind, ref=ref, payload=payload, error=f"{type(exc).__name__}: {exc}", now=now,
            max_attempts=settings.dead_letter_max_attempts,
        )  # fmt: skip
