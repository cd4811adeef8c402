"""apply_action in the caller's transaction: alert row, events (outbox), notes and audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from alerting.actions import apply_action
from alerting.errors import AlertNotFound, InvalidAction, InvalidTransition
from alerting.raising import record_scores
from tests.integration.alert_helpers import admit, clinician, events, scored
from vward.config import Settings

NOW = datetime.now(UTC).replace(microsecond=0)


def raised_alert(conn: psycopg.Connection, settings: Settings) -> int:
    adm = admit(conn, admitted_at=NOW - timedelta(days=1))
    record_scores(conn, [scored(adm, 7, "high", NOW)], settings=settings, now=NOW)
    row = conn.execute("SELECT id FROM alerts WHERE admission_id = %s", (adm,)).fetchone()
    assert row is not None
    return int(row[0])


def test_actions_write_alert_events_notes_and_audit(clean_db: psycopg.Connection, settings: Settings) -> None:
    nurse = clinician(clean_db, "nurse.a")
    alert_id = raised_alert(clean_db, settings)
    t = NOW + timedelta(minutes=2)
    with psycopg.connect(settings.database_url) as conn:
        a = apply_action(conn, alert_id=alert_id, action="acknowledge", actor_id=nurse, now=t)
        assert a.status == "acknowledged"
        apply_action(conn, alert_id=alert_id, action="note", actor_id=nurse, now=t, note="Phoned, no answer")
        apply_action(
            conn,
            alert_id=alert_id,
            action="snooze",
            actor_id=nurse,
            now=t,
            snooze_until=t + timedelta(minutes=20),
            snooze_reason="Crew on the way",
        )
        apply_action(conn, alert_id=alert_id, action="respond", actor_id=nurse, now=t, response_kind="emergency_999")
        a = apply_action(conn, alert_id=alert_id, action="resolve", actor_id=nurse, now=t)
    assert a.status == "resolved" and a.response_kind == "emergency_999"
    row = clean_db.execute(
        "SELECT status, acknowledged_by, responded_by, resolved_by, snoozed_until FROM alerts WHERE id = %s",
        (alert_id,),
    ).fetchone()
    assert row == ("resolved", nurse, nurse, nurse, None)
    assert events(clean_db, alert_id) == [
        "raised",
        "acknowledged",
        "note_added",
        "snoozed",
        "responded",
        "resolved",
    ]
    assert clean_db.execute("SELECT author_id, body FROM alert_notes").fetchall() == [(nurse, "Phoned, no answer")]
    audit = clean_db.execute(
        "SELECT actor_id, action, entity, entity_id FROM audit_log WHERE actor_id IS NOT NULL ORDER BY id"
    ).fetchall()
    assert audit == [
        (nurse, f"alert.{e}", "alert", str(alert_id))
        for e in ("acknowledged", "note_added", "snoozed", "responded", "resolved")
    ]


def test_bad_actions_raise_and_write_nothing(clean_db: psycopg.Connection, settings: Settings) -> None:
    nurse = clinician(clean_db, "nurse.b")
    alert_id = raised_alert(clean_db, settings)
    cases = [
        (AlertNotFound, {"alert_id": alert_id + 1000, "action": "acknowledge"}),
        (InvalidAction, {"alert_id": alert_id, "action": "delete"}),
        (InvalidTransition, {"alert_id": alert_id, "action": "resolve"}),
        (InvalidAction, {"alert_id": alert_id, "action": "respond"}),
        (InvalidAction, {"alert_id": alert_id, "action": "snooze", "snooze_reason": "x"}),
    ]
    for error, kwargs in cases:
        with psycopg.connect(settings.database_url) as conn, pytest.raises(error):
            apply_action(conn, actor_id=nurse, now=NOW, **kwargs)
    assert events(clean_db) == ["raised"]
    assert clean_db.execute("SELECT count(*) FROM audit_log WHERE actor_id IS NOT NULL").fetchone() == (0,)
