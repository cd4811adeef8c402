"""The platform's closed vocabularies, defined once: vital signs with units and bounds, ACVPU, risk bands,
alert statuses, triggers, response kinds, roles, device kinds, admission words, hospital encounter classes
and text limits.

The database's CHECK constraints restate some of these (SQL cannot import Python);
``tests/integration/test_vocabulary_schema.py`` reads them from the live schema and fails on any drift.
Pure: no I/O, and nothing from the packages above the ground floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args


class Vital(StrEnum):
    """The measurements a reading may carry, in the readings table's column order."""

    RR = "rr"
    SPO2 = "spo2"
    SBP = "sbp"
    DBP = "dbp"
    HR = "hr"
    TEMP = "temp"
    ON_OXYGEN = "on_oxygen"
    CONSCIOUSNESS = "consciousness"


@dataclass(frozen=True)
class Measure:
    """A numeric vital sign: its clinical unit and what a living patient can plausibly produce (inclusive)."""

    unit: str
    low: float
    high: float


MEASURES: dict[Vital, Measure] = {
    Vital.RR: Measure("/min", 1, 80),
    Vital.SPO2: Measure("%", 40, 100),
    Vital.SBP: Measure("mmHg", 40, 300),
    Vital.DBP: Measure("mmHg", 15, 200),
    Vital.HR: Measure("/min", 20, 300),
    Vital.TEMP: Measure("°C", 25, 45),
}
VITAL_FIELDS: tuple[str, ...] = tuple(v.value for v in Vital)

# ACVPU: Alert, new Confusion, responds to Voice, to Pain, Unresponsive. The letter is what devices send
# and the database stores; the code (its position, 0..4) is what the NEWS2 kernel and observation sets use.
AcvpuLetter = Literal["A", "C", "V", "P", "U"]
ACVPU: tuple[str, ...] = get_args(AcvpuLetter)
ACVPU_CODES: dict[str, int] = {letter: code for code, letter in enumerate(ACVPU)}


class Risk(StrEnum):
    """NEWS2 clinical risk, in order of severity (``RISK_LEVELS`` index = severity)."""

    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


RISK_LEVELS: tuple[str, ...] = tuple(r.value for r in Risk)
# An alert's risk: NEWS2's bands, then NPEWS's emergency level above them (NPEWS low, medium and high share
# NEWS2's names and its targets' order; see alerting/npews_raising.py).
EMERGENCY = "emergency"
ALERT_RISKS: tuple[str, ...] = (*RISK_LEVELS, EMERGENCY)


class AlertStatus(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESPONDED = "responded"
    RESOLVED = "resolved"


OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in AlertStatus if s is not AlertStatus.RESOLVED)


class Trigger(StrEnum):
    """What raised an alert."""

    NEWS2 = "news2"
    SINGLE_PARAMETER = "single_parameter"
    TREND = "trend"
    MISSED_READINGS = "missed_readings"
    NPEWS = "npews"
    NPEWS_CONCERN = "npews_concern"


class ResponseKind(StrEnum):
    """How a clinician responded to an alert."""

    PHONE = "phone"
    VIDEO = "video"
    HOME_VISIT = "home_visit"
    EMERGENCY_999 = "emergency_999"


class Role(StrEnum):
    NURSE = "nurse"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class DeviceKind(StrEnum):
    PULSE_OXIMETER = "pulse_oximeter"
    BP_CUFF = "bp_cuff"
    THERMOMETER = "thermometer"
    WEARABLE = "wearable"
    CHECKIN = "checkin"


class AdmissionSource(StrEnum):
    """Step-up: from home instead of hospital; step-down: early discharge from hospital."""

    STEP_UP = "step_up"
    STEP_DOWN = "step_down"


class Sex(StrEnum):
    """As recorded on admission, to tell patients apart (``patients.sex``, migration 0015)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class DischargeOutcome(StrEnum):
    RECOVERED_AT_HOME = "recovered_at_home"
    CONVEYED_TO_HOSPITAL = "conveyed_to_hospital"
    DIED = "died"
    OTHER = "other"


# A hospital admission's class (HL7 v3 ActCode), from a hospital's FHIR Encounter or recorded by hand, and
# the word the UI shows for it (``hospital_admissions.encounter_class``, migration 0017).
EncounterClass = Literal["IMP", "EMER"]
ENCOUNTER_CLASSES: tuple[str, ...] = get_args(EncounterClass)
ENCOUNTER_CLASS_WORDS: dict[str, str] = {"IMP": "inpatient", "EMER": "emergency"}

SPO2_SCALES: tuple[int, ...] = (1, 2)  # NEWS2 SpO2 scale 1, or 2 for confirmed hypercapnic respiratory failure

# Text limits, in characters.
MAX_NOTE_CHARS = 4000  # a clinical note on an alert (alert_notes.body)
MAX_SNOOZE_REASON_CHARS = 500

# The fields of an alert stream entry (Redis), written by alerting.outbox; no patient-identifiable data.
STREAM_FIELDS: tuple[str, ...] = (
    "event_id",
    "alert_id",
    "admission_id",
    "ward_id",
    "event",
    "status",
    "risk",
    "trigger",
    "news2_total",
    "news2_complete",
    "escalation_level",
    "snoozed_until",
    "actor_id",
    "at",
    "notify",
    "detail",
)
