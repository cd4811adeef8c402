"""Pure mappers from a stored reading to its FHIR Observations: one per vital sign (for a child, with the
visit's respiratory distress and capillary refill), and one NEWS2 (an adult's set) or NPEWS (a child's set)
score.

A reading has no id of its own (it is unique on device and measurement time), so an Observation's id is
``{admission}-{microseconds since 1970}-{first 8 hex of sha256(device)}-{kind}``: at most 52 characters,
within FHIR's 64, and enough to find the reading again for a read by id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alerting import npews as npews_chart
from alerting.news2 import PARAMETERS
from fhir_r4 import codes
from fhir_r4.resources import Resource, instant
from fhir_r4.rows import ReadingRow, SourceRef

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_BIGINT = 2**63 - 1
_ID_RE = re.compile(r"^([0-9]{1,19})-(-?[0-9]{1,17})-([0-9a-f]{8})-([a-z0-9]{2,5})$")
VITAL_SIGNS = {"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}
SURVEY = {"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}


@dataclass(frozen=True)
class ObservationKey:
    admission_id: int
    measured_at: datetime
    device_hash: str
    kind: str


def device_hash(device_id: str) -> str:
    return hashlib.sha256(device_id.encode()).hexdigest()[:8]


def observation_id(admission_id: int, measured_at: datetime, device_id: str, kind: str) -> str:
    micros = (measured_at - _EPOCH) // timedelta(microseconds=1)
    return f"{admission_id}-{micros}-{device_hash(device_id)}-{kind}"


def parse_observation_id(value: str) -> ObservationKey | None:
    """The reading an Observation id names, or None if it is not one of ours."""
    m = _ID_RE.match(value)
    if m is None or m.group(4) not in codes.OBSERVATION_KINDS or int(m.group(1)) > _MAX_BIGINT:
        return None
    try:
        at = _EPOCH + timedelta(microseconds=int(m.group(2)))
    except OverflowError:
        return None
    return ObservationKey(int(m.group(1)), at, m.group(3), m.group(4))


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _quantity(value: Decimal | int, unit: tuple[str, str]) -> Resource:
    return {
        "value": _number(Decimal(value)),
        "unit": unit[0],
        "system": codes.UCUM,
        "code": unit[1],
    }


def _concept(*cs: codes.Code) -> Resource:
    return {"coding": [c.coding() for c in cs], "text": cs[0].display}


def _base(row: ReadingRow, kind: str, category: Resource) -> Resource:
    device = (row.device_kind or "device").replace("_", " ")
    return {
        "resourceType": "Observation",
        "id": observation_id(row.admission_id, row.measured_at, row.device_id, kind),
        "status": "final",
        "category": [category],
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "encounter": {"reference": f"Encounter/{row.admission_id}"},
        "effectiveDateTime": instant(row.measured_at),
        "issued": instant(row.received_at),
        "device": {"identifier": {"system": codes.DEVICE_ID, "value": row.device_id}, "display": device},
    }


def _vital(row: ReadingRow, kind: str) -> Resource | None:
    v = codes.VITALS.get(kind)
    obs: Resource
    if kind == "bp":
        if row.sbp is None and row.dbp is None:
            return None
        obs = _base(row, kind, VITAL_SIGNS) | {"code": _concept(*codes.VITALS["bp"].codes)}
        obs["component"] = [
            {"code": _concept(*c), "valueQuantity": _quantity(value, codes.MM_HG)}
            for c, value in ((codes.SYSTOLIC, row.sbp), (codes.DIASTOLIC, row.dbp))
            if value is not None
        ]
        return obs
    if kind == "o2":
        if row.on_oxygen is None:
            return None
        return _base(row, kind, VITAL_SIGNS) | {"code": _concept(codes.ON_OXYGEN if row.on_oxygen else codes.ON_AIR)}
    if kind == "acvpu":
        if row.consciousness is None:
            return None
        obs = _base(row, kind, VITAL_SIGNS) | {"code": _concept(*codes.VITALS["acvpu"].codes)}
        obs["valueCodeableConcept"] = _concept(codes.ACVPU[row.consciousness])
        return obs
    if kind == "rd":
        if row.resp_distress is None:
            return None
        found = {"text": row.resp_distress.capitalize()}  # the guide's None, Mild, Moderate or Severe
        return _base(row, kind, SURVEY) | {"code": _concept(codes.RESP_DISTRESS), "valueCodeableConcept": found}
    if kind == "crt":
        if row.crt is None:
            return None
        return _base(row, kind, SURVEY) | {
            "code": _concept(codes.CAPILLARY_REFILL),
            "valueQuantity": _quantity(row.crt, codes.SECONDS),
        }
    value = getattr(row, kind)
    if value is None or v is None or v.unit is None:
        return None
    return _base(row, kind, VITAL_SIGNS) | {"code": _concept(*v.codes), "valueQuantity": _quantity(value, v.unit)}


def _score_value(obs: Resource, total: int, complete: bool | None, sub_scores: tuple[int | None, ...]) -> None:
    """The total as ``valueQuantity``; an incomplete set's total is a floor, so it carries the ``>=``
    comparator and says so in a note: never a silent total."""
    value = _quantity(total, codes.SCORE_UNIT)
    if not complete:
        value["comparator"] = ">="
        present = sum(s is not None for s in sub_scores)
        why = (
            f"{present} of {len(sub_scores)} parameters measured within the freshness window"
            if present < len(sub_scores)
            else "supplemental oxygen with no recorded level scores only the floor it is sure of"
        )
        obs["note"] = [
            {
                "text": f"Incomplete observation set: {why}; the total is the partial total of those present "
                "(a floor of the true score)."
            }
        ]
    obs["valueQuantity"] = value


def _sub_score(code: codes.Code, score: int | None) -> Resource:
    """A sub-score component; a missing one has a data-absent reason, never a 0."""
    component: Resource = {"code": _concept(code)}
    if score is None:
        component["dataAbsentReason"] = {
            "coding": [{"system": codes.DATA_ABSENT, "code": "unknown", "display": "Unknown"}],
            "text": "not measured within the freshness window",
        }
    else:
        component["valueQuantity"] = _quantity(score, codes.SCORE_UNIT)
    return component


def _derived_from(row: ReadingRow, sources: dict[str, SourceRef], kinds: dict[str, str]) -> list[Resource]:
    """References to the raw Observations the set's parameters came from, each once, in parameter order."""
    derived: list[Resource] = []
    for param, kind in kinds.items():
        src = sources.get(param)
        if src is not None:
            ref = {"reference": f"Observation/{observation_id(row.admission_id, src.measured_at, src.device_id, kind)}"}
            if ref not in derived:
                derived.append(ref)
    return derived


def news2(row: ReadingRow) -> Resource | None:
    """The set's NEWS2: a component per sub-score, derived from the raw Observations of the set."""
    if row.news2_total is None:
        return None
    obs = _base(row, "news2", SURVEY) | {"code": _concept(codes.NEWS2)}
    _score_value(obs, row.news2_total, row.news2_complete, row.sub_scores)
    if row.news2_risk is not None:
        obs["interpretation"] = [
            {
                "coding": [{"system": codes.NEWS2_RISK, "code": row.news2_risk}],
                "text": f"{row.news2_risk} clinical risk",
            }
        ]
    obs["component"] = [
        _sub_score(codes.NEWS2_COMPONENTS[f"spo2_scale{row.spo2_scale}" if param == "spo2" else param], score)
        for param, score in zip(PARAMETERS, row.sub_scores, strict=True)
    ]
    derived = _derived_from(row, row.sources, {p: codes.PARAMETER_SOURCE[p] for p in PARAMETERS})
    if derived:
        obs["derivedFrom"] = derived
    return obs


def npews(row: ReadingRow) -> Resource | None:
    """A child's set's NPEWS: the chart used (age band on the day), a component per sub-score, the level the
    total reaches, derived from the raw Observations of the set. Triggers beyond the total (a carer's W,
    a new suspicion of sepsis, an AVPU change) escalate the child's alert, not this score."""
    if row.npews_total is None or row.npews_age_band is None:
        return None
    obs = _base(row, "npews", SURVEY) | {"code": _concept(codes.NPEWS)}
    _score_value(obs, row.npews_total, row.npews_complete, row.npews_sub_scores)
    if row.npews_level is not None:
        level = row.npews_level
        obs["interpretation"] = [
            {
                "coding": [{"system": codes.NPEWS_LEVEL, "code": level, "display": level}],
                "text": f"escalation level by the PEWS total: {level}",
            }
        ]
    band = npews_chart.AGE_BANDS[row.npews_age_band]
    chart: Resource = {
        "code": _concept(codes.NPEWS_CHART),
        "valueCodeableConcept": {
            "coding": [{"system": codes.NPEWS_AGE_BAND, "code": str(row.npews_age_band), "display": band}],
            "text": f"PEWS chart for {band}",
        },
    }
    obs["component"] = [chart] + [
        _sub_score(codes.NPEWS_COMPONENTS[param], score)
        for param, score in zip(npews_chart.PARAMETERS, row.npews_sub_scores, strict=True)
    ]
    derived = _derived_from(row, row.npews_sources, codes.NPEWS_PARAMETER_SOURCE)
    if derived:
        obs["derivedFrom"] = derived
    return obs


def observation(row: ReadingRow, kind: str) -> Resource | None:
    """The Observation of ``kind`` this reading holds, or None if it measured no such thing."""
    if kind == "news2":
        return news2(row)
    return npews(row) if kind == "npews" else _vital(row, kind)


def observations(row: ReadingRow, kinds: tuple[str, ...] = codes.OBSERVATION_KINDS) -> list[Resource]:
    out = []
    for kind in kinds:
        obs = observation(row, kind)
        if obs is not None:
            out.append(obs)
    return out


def fields_present(kind: str) -> tuple[str, ...]:
    """The readings columns of which at least one is non-null when a reading holds an Observation of ``kind``."""
    return {
        "bp": ("sbp", "dbp"),
        "o2": ("on_oxygen",),
        "acvpu": ("consciousness",),
        "news2": ("news2_total",),
        "rd": ("resp_distress",),
        "npews": ("npews_total",),
    }.get(kind, (kind,))
