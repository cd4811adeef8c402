"""The alert state machine: valid and invalid transitions, due times, escalation and reminders, snooze."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerting.errors import AlertingError, InvalidAction, InvalidTransition
from alerting.lifecycle import (
    Acknowledge,
    AddNote,
    AdmissionEnded,
    ReadingsResumed,
    Record,
    Resolve,
    Respond,
    RiskIncreased,
    SaveNote,
    Snooze,
    Tick,
    Unsnooze,
    raise_alert,
    transition,
)
from alerting.model import Alert, Targets
from vward.config import Settings

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
TARGETS = Targets.from_settings(Settings())
TICK = Tick(TARGETS.reminder_interval)
NURSE, COORD = 7, 8


def new(risk: str = "medium", trigger: str = "news2") -> Alert:
    alert, effects = raise_alert(
        admission_id=1,
        trigger=trigger,
        risk=risk,
        news2_total=5,
        news2_complete=True,
        sub_scores=(1, 0, 0, 1, 1, 0, 2),
        observed_at=T0,
        now=T0,
        targets=TARGETS,
    )
    assert [e.event for e in effects if isinstance(e, Record)] == ["raised"]
    return replace(alert, id=42)


def events(effects: list) -> list[str]:
    return [e.event for e in effects if isinstance(e, Record)]


@pytest.mark.parametrize(
    ("risk", "ack", "response"),
    [
        ("high", 5 * MIN, 30 * MIN),
        ("medium", 15 * MIN, 60 * MIN),
        ("low-medium", 30 * MIN, 120 * MIN),
        ("low", 30 * MIN, 120 * MIN),
    ],
)
def test_due_times_follow_the_band(risk: str, ack: timedelta, response: timedelta) -> None:
    alert = new(risk)
    assert (alert.acknowledge_due_at, alert.response_due_at) == (T0 + ack, T0 + response)


def test_happy_path_records_who_and_when() -> None:
    a, fx = transition(new(), Acknowledge(NURSE), T0 + MIN)
    assert (a.status, a.acknowledged_by, a.acknowledged_at, events(fx)) == (
        "acknowledged",
        NURSE,
        T0 + MIN,
        ["acknowledged"],
    )
    a, fx = transition(a, Respond(NURSE, "video"), T0 + 2 * MIN)
    assert (a.status, a.response_kind, a.responded_by) == ("responded", "video", NURSE)
    a, fx = transition(a, Resolve(NURSE), T0 + 3 * MIN)
    assert (a.status, a.resolved_at, events(fx)) == ("resolved", T0 + 3 * MIN, ["resolved"])
    assert fx[0].from_status == "responded" and fx[0].actor_id == NURSE


@pytest.mark.parametrize(
    ("steps", "bad"),
    [
        ([], Respond(NURSE, "phone")),
        ([], Resolve(NURSE)),
        ([Acknowledge(NURSE)], Acknowledge(NURSE)),
        ([Acknowledge(NURSE)], Resolve(NURSE)),
        ([Acknowledge(NURSE), Respond(NURSE, "phone"), Resolve(NURSE)], Acknowledge(NURSE)),
        ([], Unsnooze(NURSE)),
    ],
)
def test_invalid_transitions_raise(steps: list, bad: object) -> None:
    alert = new()
    for step in steps:
        alert, _ = transition(alert, step, T0)
    with pytest.raises(InvalidTransition):
        transition(alert, bad, T0)  # type: ignore[arg-type]


def test_bad_arguments_raise_from_the_tree() -> None:
    acked, _ = transition(new(), Acknowledge(NURSE), T0)
    with pytest.raises(InvalidAction, match="response kind"):
        transition(acked, Respond(NURSE, "carrier pigeon"), T0)
    with pytest.raises(InvalidAction, match="note"):
        transition(acked, AddNote(NURSE, "   "), T0)
    assert issubclass(InvalidAction, AlertingError) and issubclass(InvalidTransition, AlertingError)


def test_note_is_saved_even_on_a_resolved_alert() -> None:
    a = new()
    for step in (Acknowledge(NURSE), Respond(NURSE, "phone"), Resolve(NURSE)):
        a, _ = transition(a, step, T0)
    same, fx = transition(a, AddNote(NURSE, " spoke to daughter "), T0 + MIN)
    assert same.status == "resolved"
    assert SaveNote(NURSE, "spoke to daughter") in fx and events(fx) == ["note_added"]


def test_missed_acknowledge_escalates_then_reminds_until_acknowledged() -> None:
    a = new("high")  # ack due T0+5, response due T0+30
    a, fx = transition(a, TICK, T0 + 4 * MIN)
    assert fx == [] and a.escalation_level == 0
    a, fx = transition(a, TICK, T0 + 5 * MIN)
    assert events(fx) == ["escalated"] and fx[0].notify == ("nurses", "coordinators")
    assert fx[0].detail["target"] == "acknowledge" and a.escalation_level == 1
    a, fx = transition(a, TICK, T0 + 9 * MIN)
    assert fx == []  # next reminder at T0+10
    a, fx = transition(a, TICK, T0 + 10 * MIN)
    assert events(fx) == ["reminder"] and a.escalation_level == 2 and a.next_reminder_at == T0 + 15 * MIN
    a, _ = transition(a, Acknowledge(NURSE), T0 + 11 * MIN)
    assert a.next_reminder_at is None
    a, fx = transition(a, TICK, T0 + 20 * MIN)
    assert fx == []  # acknowledged: no reminders until the response target passes


def test_missed_response_escalates_and_reminds_until_responded() -> None:
    a, _ = transition(new("high"), Acknowledge(NURSE), T0 + MIN)
    a, fx = transition(a, TICK, T0 + 30 * MIN)
    assert events(fx) == ["escalated"] and fx[0].detail["target"] == "response"
    a, fx = transition(a, TICK, T0 + 35 * MIN)
    assert events(fx) == ["reminder"]
    a, _ = transition(a, Respond(NURSE, "home_visit"), T0 + 36 * MIN)
    a, fx = transition(a, TICK, T0 + 60 * MIN)
    assert fx == []


def test_a_late_tick_escalates_once_per_target() -> None:
    a = new("high")
    a, fx = transition(a, TICK, T0 + 31 * MIN)  # both targets passed: one escalation covers both
    assert [e.detail.get("target") for e in fx] == ["response"] and a.escalation_level == 1
    a, fx = transition(a, TICK, T0 + 32 * MIN)
    assert fx == []
    a, fx = transition(a, TICK, T0 + 36 * MIN)
    assert events(fx) == ["reminder"]


def test_shrunken_clock() -> None:
    tiny = Targets.from_settings(
        Settings(target_medium_ack=timedelta(seconds=2), escalation_reminder_interval=timedelta(seconds=1))
    )
    a, _ = raise_alert(
        admission_id=1,
        trigger="news2",
        risk="medium",
        news2_total=5,
        news2_complete=True,
        sub_scores=None,
        observed_at=T0,
        now=T0,
        targets=tiny,
    )
    tick = Tick(tiny.reminder_interval)
    seen = []
    for s in range(6):
        a, fx = transition(a, tick, T0 + timedelta(seconds=s))
        seen += events(fx)
    assert seen == ["escalated", "reminder", "reminder", "reminder"]


@pytest.mark.parametrize(
    ("snooze", "message"),
    [
        (Snooze(None, T0 + 60 * MIN, "known baseline"), "clinician"),
        (Snooze(NURSE, T0 + 60 * MIN, " "), "reason"),
        (Snooze(NURSE, None, "known baseline"), "expiry"),
        (Snooze(NURSE, T0, "known baseline"), "expiry"),
        (Snooze(NURSE, T0 + timedelta(hours=25), "known baseline"), "expiry"),
    ],
)
def test_snooze_requires_clinician_reason_and_expiry(snooze: Snooze, message: str) -> None:
    acked, _ = transition(new(), Acknowledge(NURSE), T0)
    with pytest.raises(InvalidAction, match=message):
        transition(acked, snooze, T0)


def test_snooze_needs_acknowledgement_and_pauses_the_clocks_until_it_expires() -> None:
    with pytest.raises(InvalidTransition):
        transition(new(), Snooze(NURSE, T0 + 90 * MIN, "COPD baseline"), T0)
    a, _ = transition(new("medium"), Acknowledge(NURSE), T0)
    a, fx = transition(a, Snooze(NURSE, T0 + 90 * MIN, "COPD baseline"), T0)
    assert (a.snoozed_by, a.snooze_reason, events(fx)) == (NURSE, "COPD baseline", ["snoozed"])
    a, fx = transition(a, TICK, T0 + 61 * MIN)  # response due at T0+60, but snoozed
    assert fx == []
    a, fx = transition(a, TICK, T0 + 90 * MIN)
    assert events(fx) == ["snooze_expired", "escalated"] and a.snoozed_until is None
    b, _ = transition(new(), Acknowledge(NURSE), T0)
    b, _ = transition(b, Snooze(NURSE, T0 + 90 * MIN, "COPD baseline"), T0)
    b, fx = transition(b, Unsnooze(COORD), T0 + MIN)
    assert b.snoozed_until is None and events(fx) == ["unsnoozed"] and fx[0].actor_id == COORD


def test_higher_risk_breaks_through_snooze_and_needs_a_fresh_acknowledgement() -> None:
    a, _ = transition(new("medium"), Acknowledge(NURSE), T0)
    a, _ = transition(a, Snooze(NURSE, T0 + 90 * MIN, "COPD baseline"), T0)
    ack_due, resp_due = TARGETS.due("high", T0 + 10 * MIN)
    up = RiskIncreased("high", 8, True, (3, 1, 2, 0, 1, 0, 1), T0 + 10 * MIN, ack_due, resp_due)
    a, fx = transition(a, up, T0 + 10 * MIN)
    assert (a.risk, a.status, a.snoozed_until, a.acknowledged_by) == ("high", "raised", None, None)
    assert a.acknowledge_due_at == T0 + 15 * MIN and events(fx) == ["risk_increased"]
    with pytest.raises(InvalidTransition):
        transition(a, replace(up, risk="medium"), T0 + 11 * MIN)


def _in_status(status: str, trigger: str = "news2", risk: str = "medium") -> Alert:
    alert = new(risk, trigger)
    if status in ("acknowledged", "responded"):
        alert, _ = transition(alert, Acknowledge(NURSE), T0 + MIN)
    if status == "responded":
        alert, _ = transition(alert, Respond(NURSE, "phone"), T0 + 2 * MIN)
    return alert


@pytest.mark.parametrize("status", ["raised", "acknowledged", "responded"])
def test_discharge_closes_an_open_alert_from_any_status(status: str) -> None:
    alert = _in_status(status)
    if status != "raised":  # a snooze must not survive the alert
        alert, _ = transition(alert, Snooze(NURSE, T0 + 60 * MIN, "family visiting"), T0 + 3 * MIN)
    closed, fx = transition(alert, AdmissionEnded(COORD, "conveyed_to_hospital"), T0 + 4 * MIN)
    assert (closed.status, closed.resolved_by, closed.resolved_at) == ("resolved", COORD, T0 + 4 * MIN)
    assert (closed.snoozed_until, closed.next_reminder_at) == (None, None)
    [record] = fx
    assert (record.event, record.from_status, record.to_status, record.actor_id) == (
        "closed_on_discharge",
        status,
        "resolved",
        COORD,
    )
    assert record.detail == {"outcome": "conveyed_to_hospital"} and record.notify == ()
    with pytest.raises(InvalidTransition):  # no more reminders or escalations
        transition(closed, TICK, T0 + 600 * MIN)


def test_a_closed_alert_cannot_be_discharged_again() -> None:
    closed, _ = transition(new(), AdmissionEnded(COORD, "died"), T0 + MIN)
    with pytest.raises(InvalidTransition):
        transition(closed, AdmissionEnded(COORD, "died"), T0 + 2 * MIN)


@pytest.mark.parametrize("status", ["raised", "acknowledged"])
def test_readings_resuming_close_a_missed_readings_alert_by_the_system(status: str) -> None:
    alert = _in_status(status, trigger="missed_readings", risk="low")
    closed, fx = transition(alert, ReadingsResumed(T0 + 9 * MIN), T0 + 10 * MIN)
    assert (closed.status, closed.resolved_by, closed.resolved_at) == ("resolved", None, T0 + 10 * MIN)
    assert events(fx) == ["readings_resumed"] and fx[0].actor_id is None
    assert fx[0].detail == {"observed_at": (T0 + 9 * MIN).isoformat()}


@pytest.mark.parametrize(("trigger", "risk"), [("news2", "medium"), ("trend", "low"), ("missed_readings", "high")])
def test_readings_resuming_leave_clinical_alerts_open(trigger: str, risk: str) -> None:
    """Only an unescalated missed-readings alert is answered by data; a set that escalated it made it clinical."""
    with pytest.raises(InvalidTransition):
        transition(new(risk, trigger), ReadingsResumed(T0 + MIN), T0 + MIN)
