"""The rows the mappers read: plain values fetched by ``queries``, so the mappers stay pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class PatientRow:
    id: int
    nhs_number: str
    given_name: str
    family_name: str
    date_of_birth: date


@dataclass(frozen=True)
class WardRow:
    id: int
    code: str
    name: str
    pathway: str
    provider: str


@dataclass(frozen=True)
class AdmissionRow:
    id: int
    patient_id: int
    ward_id: int
    ward_code: str
    ward_name: str
    source: str
    admitted_at: datetime
    discharged_at: datetime | None
    discharge_outcome: str | None


@dataclass(frozen=True)
class SourceRef:
    """The reading a NEWS2 or NPEWS parameter's value came from (for ``derivedFrom``)."""

    device_id: str
    measured_at: datetime


@dataclass(frozen=True)
class ReadingRow:
    """One stored reading with its set's NEWS2 score (an adult's) or NPEWS score (a child's); values are
    ``numeric`` (the shortest decimal of the stored ``real``) so 36.7 °C is emitted as 36.7, not 36.70000076."""

    admission_id: int
    patient_id: int
    device_id: str
    device_kind: str | None
    measured_at: datetime
    received_at: datetime
    rr: Decimal | None
    spo2: Decimal | None
    sbp: Decimal | None
    dbp: Decimal | None
    hr: Decimal | None
    temp: Decimal | None
    on_oxygen: bool | None
    consciousness: str | None
    resp_distress: str | None  # a child's, entered on a visit
    crt: Decimal | None
    spo2_scale: int
    news2_total: int | None
    news2_complete: bool | None
    news2_risk: str | None
    sub_scores: tuple[int | None, ...]  # alerting.news2.PARAMETERS order
    sources: dict[str, SourceRef]  # NEWS2 parameter -> the reading its value came from
    npews_age_band: int | None  # index into alerting.npews.AGE_BANDS: the chart used
    npews_total: int | None
    npews_complete: bool | None
    npews_level: str | None
    npews_sub_scores: tuple[int | None, ...]  # alerting.npews.PARAMETERS order
    npews_sources: dict[str, SourceRef]  # NPEWS parameter with a raw Observation -> the reading it came from
