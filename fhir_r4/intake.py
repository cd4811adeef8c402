"""FHIR in, the pure part: a ``batch``/``transaction`` Bundle of vital-sign Observations decoded into the
readings the MQTT contract carries, each bad entry refused alone with a reason, and the response Bundle.

No database and no clock here. The reasons are the quarantine vocabulary ingest uses (``missing_field``,
``wrong_type``, ``impossible_value``, ...), and the values are checked by the same ``vward.contract.Reading``
model, so a reading is judged the same whichever door it came through. Observations of one device at one
moment (a pulse oximeter's SpO2 and pulse) become one reading, as one MQTT message would carry them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from fhir_r4 import codes
from fhir_r4.bundles import outcome
from fhir_r4.errors import BadRequest
from fhir_r4.resources import Resource
from vward.contract import DEVICE_ID_PATTERN, Reading

MAX_ENTRIES = 1000
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
IMPOSSIBLE_VALUE = "impossible_value"
_ACVPU_BY_CODE = {c.code: letter for letter, c in codes.ACVPU.items()}
_UNITS = {kind: v.unit[1] for kind, v in codes.VITALS.items() if v.unit is not None}


@dataclass(frozen=True)
class Accepted:
    """One entry's values, well formed and within what a living patient can produce."""

    index: int
    identifier: tuple[str, str]
    device_id: str
    measured_at: datetime
    values: dict[str, float | bool | str]


@dataclass(frozen=True)
class Refused:
    index: int
    reason: str
    detail: str
    identifier: tuple[str, str] | None = None
    device_id: str | None = None
    raw: bytes = b""


@dataclass
class DeviceReading:
    """The entries of one device at one moment, merged into the reading they make together."""

    device_id: str
    reading: Reading
    entries: list[Accepted] = field(default_factory=list)


class _Refuse(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def bundle_entries(body: Any) -> tuple[str, list[Any]]:
    """The Bundle's type and entries; anything else is a 400 for the whole request."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise BadRequest("POST a Bundle of Observations to /fhir/R4")
    if body.get("type") not in ("batch", "transaction"):
        raise BadRequest("the Bundle's type must be batch or transaction")
    entries = body.get("entry", [])
    if not isinstance(entries, list) or not entries:
        raise BadRequest("the Bundle has no entries")
    if len(entries) > MAX_ENTRIES:
        raise BadRequest(f"a Bundle carries at most {MAX_ENTRIES} entries")
    return str(body["type"]), entries


def _quantity(q: Any, unit: str, what: str) -> float:
    if not isinstance(q, dict) or "value" not in q:
        raise _Refuse(MISSING_FIELD, f"{what}: valueQuantity.value is required")
    value = q["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refuse(WRONG_TYPE, f"{what}: valueQuantity.value must be a number")
    if q.get("code") != unit or q.get("system", codes.UCUM) != codes.UCUM:
        raise _Refuse(WRONG_TYPE, f"{what}: the unit must be UCUM {unit!r}")
    return float(value)


def _kind(concept: Any) -> tuple[str, set[str]]:
    pairs = {
        (c.get("system"), c.get("code"))
        for c in (concept or {}).get("coding", [])
        if isinstance(c, dict) and isinstance(c.get("code"), str)
    }
    for kind, known in codes.codes_by_kind().items():
        if kind in codes.ACCEPTED_KINDS and pairs & known:
            return kind, {str(code) for _, code in pairs}
    raise _Refuse(WRONG_TYPE, "code: not a vital sign vward records (NEWS2 and NPEWS are computed here, not accepted)")


def _values(obs: dict[str, Any]) -> dict[str, float | bool | str]:
    kind, code_set = _kind(obs.get("code"))
    if kind == "o2":
        return {"on_oxygen": codes.ON_OXYGEN.code in code_set}
    if kind == "acvpu":
        found = [
            _ACVPU_BY_CODE[c["code"]]
            for c in (obs.get("valueCodeableConcept") or {}).get("coding", [])
            if isinstance(c, dict) and c.get("system") == codes.SNOMED and c.get("code") in _ACVPU_BY_CODE
        ]
        if not found:
            raise _Refuse(MISSING_FIELD, "valueCodeableConcept: one of the five ACVPU SNOMED codes is required")
        return {"consciousness": found[0]}
    if kind == "bp":
        out: dict[str, float | bool | str] = {}
        for comp in obs.get("component", []):
            comp_kind = {c.get("code") for c in (comp.get("code") or {}).get("coding", []) if isinstance(c, dict)}
            name = "sbp" if "8480-6" in comp_kind else "dbp" if "8462-4" in comp_kind else None
            if name is not None:
                out[name] = _quantity(comp.get("valueQuantity"), codes.MM_HG[1], name)
        if not out:
            raise _Refuse(MISSING_FIELD, "component: a systolic (8480-6) or diastolic (8462-4) value is required")
        return out
    return {kind: _quantity(obs.get("valueQuantity"), _UNITS[kind], kind)}


def _device(obs: dict[str, Any]) -> str:
    device = obs.get("device") or {}
    ident = device.get("identifier") or {}
    ref = device.get("reference")
    if ident.get("system") == codes.DEVICE_ID and isinstance(ident.get("value"), str):
        value = ident["value"]
    elif isinstance(ref, str) and ref.startswith("Device/"):
        value = ref.removeprefix("Device/")
    else:
        raise _Refuse(MISSING_FIELD, f"device: an identifier in {codes.DEVICE_ID} (or Device/{{id}}) is required")
    if not DEVICE_ID_PATTERN.match(value):
        raise _Refuse(WRONG_TYPE, "device: not a vward device id")
    return str(value)


def decode_entry(index: int, entry: Any) -> Accepted | Refused:
    """One entry's reading values, or why it is refused."""
    raw = json.dumps(entry, separators=(",", ":"), default=str).encode()[:65536]
    obs = entry.get("resource") if isinstance(entry, dict) else None
    identifier: tuple[str, str] | None = None
    device_id: str | None = None
    try:
        if not isinstance(obs, dict) or obs.get("resourceType") != "Observation":
            raise _Refuse(WRONG_TYPE, "only Observations are accepted")
        idents = [i for i in obs.get("identifier", []) if isinstance(i, dict) and i.get("system") and i.get("value")]
        if not idents:
            raise _Refuse(MISSING_FIELD, "identifier: a system and value are required (posting it again is a no-op)")
        identifier = (str(idents[0]["system"]), str(idents[0]["value"]))
        device_id = _device(obs)
        if obs.get("status") not in ("final", "amended", "corrected"):
            raise _Refuse(WRONG_TYPE, "status: only final, amended or corrected results are recorded")
        when = obs.get("effectiveDateTime") or obs.get("effectiveInstant")
        if not isinstance(when, str):
            raise _Refuse(MISSING_FIELD, "effectiveDateTime is required")
        try:
            measured_at = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError as exc:
            raise _Refuse(WRONG_TYPE, f"effectiveDateTime: {when[:40]!r} is not a date-time") from exc
        if measured_at.tzinfo is None:
            raise _Refuse(WRONG_TYPE, "effectiveDateTime needs a time zone")
        values = _values(obs)
        try:
            Reading.model_validate({"measured_at": measured_at, **values})
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "value"
            raise _Refuse(IMPOSSIBLE_VALUE, f"{where}: {first['msg']}"[:500]) from exc
    except _Refuse as exc:
        return Refused(index, exc.reason, str(exc), identifier, device_id, raw)
    return Accepted(index, identifier, device_id, measured_at, values)


def merge(accepted: list[Accepted]) -> tuple[list[DeviceReading], list[Refused]]:
    """One reading per device and moment; an entry that gives a second value for the same vital is refused."""
    groups: dict[tuple[str, datetime], DeviceReading] = {}
    refused: list[Refused] = []
    for entry in accepted:
        key = (entry.device_id, entry.measured_at)
        group = groups.get(key)
        if group is None:
            groups[key] = DeviceReading(
                entry.device_id, Reading.model_validate({"measured_at": entry.measured_at, **entry.values}), [entry]
            )
            continue
        current = group.reading.model_dump(exclude_none=True)
        clash = sorted(set(entry.values) & set(current) - {"measured_at"})
        if clash:
            refused.append(
                Refused(
                    entry.index,
                    IMPOSSIBLE_VALUE,
                    f"a second {clash[0]} for {entry.device_id} at the same moment",
                    entry.identifier,
                    entry.device_id,
                )
            )
            continue
        try:
            group.reading = Reading.model_validate({**current, **entry.values})
        except ValidationError as exc:
            refused.append(
                Refused(
                    entry.index, IMPOSSIBLE_VALUE, str(exc.errors()[0]["msg"])[:500], entry.identifier, entry.device_id
                )
            )
            continue
        group.entries.append(entry)
    return list(groups.values()), refused


def split_by_device(
    decoded: list[Accepted | Refused], allowed: set[str]
) -> tuple[list[Accepted | Refused], list[Accepted | Refused]]:
    """(entries from devices the client is bound to, or naming none; entries naming any other device)."""
    kept = [d for d in decoded if d.device_id is None or d.device_id in allowed]
    return kept, [d for d in decoded if d.device_id is not None and d.device_id not in allowed]


@dataclass(frozen=True)
class EntryResult:
    """What happened to one entry: ``stored`` (201), ``duplicate`` (200, already stored), ``forbidden`` (403,
    a device the client is not bound to) or refused (422)."""

    index: int
    status: str
    reason: str | None = None
    detail: str | None = None


_HTTP = {"stored": "201 Created", "duplicate": "200 OK"}


def response_bundle(bundle_type: str, results: list[EntryResult]) -> Resource:
    """The ``batch-response``/``transaction-response``, one entry per posted entry in the same order."""
    entries = []
    for r in sorted(results, key=lambda r: r.index):
        if r.status in _HTTP:
            text = "stored and scored" if r.status == "stored" else "already stored: nothing new"
            entries.append(
                {"response": {"status": _HTTP[r.status], "outcome": outcome("information", "informational", text)}}
            )
        elif r.status == "forbidden":
            entries.append(
                {
                    "response": {
                        "status": "403 Forbidden",
                        "outcome": outcome("error", "forbidden", f"{r.reason}: {r.detail}"),
                    }
                }
            )
        else:
            entries.append(
                {
                    "response": {
                        "status": "422 Unprocessable Entity",
                        "outcome": outcome("error", "invalid", f"{r.reason}: {r.detail}"),
                    }
                }
            )
    return {"resourceType": "Bundle", "type": f"{bundle_type}-response", "entry": entries}
