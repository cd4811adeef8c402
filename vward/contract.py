"""The MQTT contract between home devices and ingest: topic names and the JSON payload, versioned in the topic.

A message on ``vward/v1/devices/{device_id}/readings`` carries either one reading::

    {"measured_at": "2026-11-23T08:15:00Z", "spo2": 94, "hr": 88}

or a batch a device buffered while offline (or a wearable's recent samples)::

    {"readings": [{"measured_at": "...", "rr": 18, "hr": 90}, ...]}

Values are in clinical units: breaths/min, %, mmHg, beats/min, °C; ``on_oxygen`` true or false;
``consciousness`` one of A, C, V, P, U (ACVPU). The carer check-in of a child may add ``carer_answer``, the
answer to the national PEWS carer question ("How is your child different since I last saw them?"): W worse,
S same, B better, A carer asleep, U unavailable; alone it is a reading too. Each reading carries its own
measurement time (UTC, ISO 8601). The bounds (``vward.vocabulary.MEASURES``) are what a living patient can
plausibly produce; anything outside is quarantined, not scored.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo

from vward.vocabulary import MEASURES, AcvpuLetter, Vital

TOPIC_PREFIX = "vward/v1/devices"
READINGS_TOPIC_FILTER = f"{TOPIC_PREFIX}/+/readings"
DEVICE_ID_PATTERN = re.compile(r"^(?!vward-)[a-z0-9][a-z0-9-]{2,63}$")
_TOPIC_RE = re.compile(rf"^{re.escape(TOPIC_PREFIX)}/([^/]+)/readings$")
MAX_READINGS_PER_MESSAGE = 3600


def _bounds(vital: Vital) -> FieldInfo:
    """What a living patient can plausibly produce (``vward.vocabulary.MEASURES``)."""
    measure = MEASURES[vital]
    return Field(ge=measure.low, le=measure.high)


def readings_topic(device_id: str) -> str:
    return f"{TOPIC_PREFIX}/{device_id}/readings"


def device_id_from_topic(topic: str) -> str | None:
    """The device id in a readings topic, or None if the topic is not one."""
    match = _TOPIC_RE.match(topic)
    return match.group(1) if match and DEVICE_ID_PATTERN.match(match.group(1)) else None


class Reading(BaseModel):
    """One moment's measurements from one device; at least one vital sign."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    measured_at: AwareDatetime
    rr: Annotated[float, _bounds(Vital.RR)] | None = None
    spo2: Annotated[float, _bounds(Vital.SPO2)] | None = None
    sbp: Annotated[float, _bounds(Vital.SBP)] | None = None
    dbp: Annotated[float, _bounds(Vital.DBP)] | None = None
    hr: Annotated[float, _bounds(Vital.HR)] | None = None
    temp: Annotated[float, _bounds(Vital.TEMP)] | None = None
    on_oxygen: bool | None = None
    consciousness: AcvpuLetter | None = None
    carer_answer: Literal["W", "S", "B", "A", "U"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Reading:
        # Runs for every reading ingest receives (a measurable share of its time), hence the short-circuits.
        fields = self.__dict__
        sbp, dbp = fields["sbp"], fields["dbp"]
        if dbp is not None and sbp is not None and dbp >= sbp:
            raise ValueError("diastolic pressure must be below systolic")
        if (
            fields["rr"] is None
            and fields["spo2"] is None
            and fields["hr"] is None
            and sbp is None
            and dbp is None
            and fields["temp"] is None
            and fields["on_oxygen"] is None
            and fields["consciousness"] is None
            and fields["carer_answer"] is None
        ):
            raise ValueError("a reading must carry at least one vital sign or the carer's answer")
        return self


class ReadingBatch(BaseModel):
    """Readings a device buffered, each with its own measurement time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    readings: Annotated[list[Reading], Field(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)]


class ReadingBatchEnvelope(BaseModel):
    """A batch's shape alone, so that each reading can then be judged by itself (one bad reading is refused
    alone, not with its batch)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    readings: Annotated[list[Any], Field(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)]


def encode_readings(readings: list[dict[str, object]]) -> bytes:
    """The payload a device publishes: a bare reading when there is one, else a batch."""
    body: object = readings[0] if len(readings) == 1 else {"readings": readings}
    return json.dumps(body, separators=(",", ":")).encode()
