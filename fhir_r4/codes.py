"""The terminology the FHIR door emits, in one place: code systems, LOINC/SNOMED codes and UCUM units.

Codes follow UK Core and the NHS England NEWS2 FHIR conventions. NPEWS follows the same conventions with the
SNOMED CT concepts of UK Core's EarlyWarningTotalScore and EarlyWarningSubScore value sets, displayed with the
preferred terms NHS England's Clinical Observations implementation guide states. vward's own vocabularies
(admission source, discharge outcome, NEWS2 risk band, NPEWS age band and escalation level) have no national
code system, so they use local ``urn:vward:`` systems.
"""

from __future__ import annotations

from dataclasses import dataclass

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
ADMIT_SOURCE = "urn:vward:admit-source"
DISCHARGE_OUTCOME = "urn:vward:discharge-outcome"
NEWS2_RISK = "urn:vward:news2-risk"
NPEWS_AGE_BAND = "urn:vward:npews-age-band"  # codes 0-3: alerting.npews.AGE_BANDS
NPEWS_LEVEL = "urn:vward:npews-level"  # alerting.npews.LEVELS, the level the total alone reaches
DEVICE_ID = "urn:vward:device"
WARD_CODE = "urn:vward:ward"

ENCOUNTER_CLASS = (ACT_CODE, "HH", "home health")
ENCOUNTER_TYPE = (SNOMED, "270420001", "Seen in own home")

ADMIT_SOURCES = {"step_up": "Step-up (from the community)", "step_down": "Step-down (from hospital)"}
# vward's discharge outcome → (HL7 discharge-disposition code, display)
DISCHARGE_OUTCOMES = {
    "recovered_at_home": ("home", "Home"),
    "conveyed_to_hospital": ("other-hcf", "Other healthcare facility"),
    "died": ("exp", "Expired"),
    "other": ("oth", "Other"),
}


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class Vital:
    """One kind of vital-sign Observation: its codings, its UCUM unit (None for coded values)."""

    kind: str
    codes: tuple[Code, ...]
    unit: tuple[str, str] | None  # (human unit, UCUM code)


VITALS: dict[str, Vital] = {
    v.kind: v
    for v in (
        Vital("hr", (Code(LOINC, "8867-4", "Heart rate"), Code(SNOMED, "364075005", "Heart rate")), ("/min", "/min")),
        Vital(
            "rr",
            (Code(LOINC, "9279-1", "Respiratory rate"), Code(SNOMED, "86290005", "Respiratory rate")),
            ("/min", "/min"),
        ),
        Vital(
            "spo2",
            (
                Code(LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
                Code(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                Code(SNOMED, "431314004", "Peripheral oxygen saturation"),
            ),
            ("%", "%"),
        ),
        Vital(
            "bp",
            (
                Code(LOINC, "85354-9", "Blood pressure panel with all children optional"),
                Code(SNOMED, "75367002", "Blood pressure"),
            ),
            None,
        ),
        Vital(
            "temp",
            (Code(LOINC, "8310-5", "Body temperature"), Code(SNOMED, "386725007", "Body temperature")),
            ("Cel", "Cel"),
        ),
        Vital(
            "acvpu",
            (Code(SNOMED, "1104441000000107", "ACVPU (Alert Confusion Voice Pain Unresponsive) scale score"),),
            None,
        ),
    )
}
MM_HG = ("mmHg", "mm[Hg]")
SYSTOLIC = (Code(LOINC, "8480-6", "Systolic blood pressure"), Code(SNOMED, "271649006", "Systolic blood pressure"))
DIASTOLIC = (Code(LOINC, "8462-4", "Diastolic blood pressure"), Code(SNOMED, "271650006", "Diastolic blood pressure"))
# Air or oxygen is recorded as the finding itself (no value), as in the NEWS2 FHIR examples.
ON_AIR = Code(SNOMED, "722742002", "Breathing room air")
ON_OXYGEN = Code(SNOMED, "371825009", "Patient on oxygen")
ACVPU = {
    "A": Code(SNOMED, "248234008", "Mentally alert"),
    "C": Code(SNOMED, "130987000", "Acute confusion"),
    "V": Code(SNOMED, "300202002", "Responds to voice"),
    "P": Code(SNOMED, "450847001", "Responds to pain"),
    "U": Code(SNOMED, "422768004", "Unresponsive"),
}

NEWS2 = Code(
    SNOMED, "1104051000000101", "Royal College of Physicians National Early Warning Score 2 (NEWS2) total score"
)
SCORE_UNIT = ("score", "{ScoreOf}")
# One component per NEWS2 parameter, in alerting.news2.PARAMETERS order; SpO2 has one code per scale.
NEWS2_COMPONENTS: dict[str, Code] = {
    "rr": Code(SNOMED, "1104301000000104", "NEWS2 respiration rate score"),
    "spo2_scale1": Code(SNOMED, "1104311000000102", "NEWS2 oxygen saturation scale 1 score"),
    "spo2_scale2": Code(SNOMED, "1104321000000108", "NEWS2 oxygen saturation scale 2 score"),
    "air_oxygen": Code(SNOMED, "1104331000000105", "NEWS2 air or oxygen score"),
    "sbp": Code(SNOMED, "1104341000000101", "NEWS2 systolic blood pressure score"),
    "pulse": Code(SNOMED, "1104351000000103", "NEWS2 pulse score"),
    "consciousness": Code(SNOMED, "1104361000000100", "NEWS2 consciousness score"),
    "temp": Code(SNOMED, "1104371000000107", "NEWS2 temperature score"),
}
# Which raw Observation kind each NEWS2 parameter is derived from.
PARAMETER_SOURCE = {
    "rr": "rr",
    "spo2": "spo2",
    "air_oxygen": "o2",
    "sbp": "bp",
    "pulse": "hr",
    "consciousness": "acvpu",
    "temp": "temp",
}


NPEWS = Code(SNOMED, "1363261000000104", "NPEWS (National Paediatric Early Warning Score) - total score")
NPEWS_CHART = Code(SNOMED, "1364091000000101", "NPEWS (National Paediatric Early Warning Score) chart used")
# One component per NPEWS parameter, in alerting.npews.PARAMETERS order.
NPEWS_COMPONENTS: dict[str, Code] = {
    "rr": Code(SNOMED, "1363271000000106", "NPEWS (National Paediatric Early Warning Score) - respiration rate score"),
    "resp_distress": Code(
        SNOMED, "1363301000000109", "NPEWS (National Paediatric Early Warning Score) - respiratory distress score"
    ),
    "spo2": Code(
        SNOMED,
        "1363311000000106",
        "NPEWS (National Paediatric Early Warning Score) - peripheral oxygen saturation score",
    ),
    "oxygen": Code(
        SNOMED, "1363321000000100", "NPEWS (National Paediatric Early Warning Score) - inspired oxygen score"
    ),
    "hr": Code(SNOMED, "1363331000000103", "NPEWS (National Paediatric Early Warning Score) - heart rate score"),
    "sbp": Code(
        SNOMED, "1363291000000105", "NPEWS (National Paediatric Early Warning Score) - systolic blood pressure score"
    ),
    "crt": Code(
        SNOMED, "1363341000000107", "NPEWS (National Paediatric Early Warning Score) - capillary refill time score"
    ),
}
# What a visiting nurse adds for NPEWS, as NHS England's Clinical Observations guide records them: the level
# of respiratory distress (its value the words None, Mild, Moderate or Severe) and capillary refill time.
RESP_DISTRESS = Code(
    SNOMED, "1364081000000103", "NPEWS (National Paediatric Early Warning Score) - level of respiratory distress"
)
CAPILLARY_REFILL = Code(SNOMED, "15527001", "Capillary filling, function")
SECONDS = ("s", "s")
# Which raw Observation kind each NPEWS parameter is derived from, in alerting.npews.PARAMETERS order.
NPEWS_PARAMETER_SOURCE = {
    "rr": "rr",
    "resp_distress": "rd",
    "spo2": "spo2",
    "oxygen": "o2",
    "hr": "hr",
    "sbp": "bp",
    "crt": "crt",
}

# Every Observation kind the API emits, and the codes a search's ``code=`` may name for it.
OBSERVATION_KINDS = ("rr", "spo2", "o2", "bp", "hr", "temp", "acvpu", "rd", "crt", "news2", "npews")
# The kinds FHIR in takes: the MQTT contract's vital signs. Scores are computed where a reading is stored, and
# respiratory distress and capillary refill are entered by the visiting nurse.
ACCEPTED_KINDS = ("rr", "spo2", "o2", "bp", "hr", "temp", "acvpu")


def codes_by_kind() -> dict[str, set[tuple[str, str]]]:
    """(system, code) pairs that select each Observation kind in a search."""
    out: dict[str, set[tuple[str, str]]] = {k: {(c.system, c.code) for c in v.codes} for k, v in VITALS.items()}
    out["bp"] |= {(c.system, c.code) for c in SYSTOLIC + DIASTOLIC}
    out["o2"] = {(ON_AIR.system, ON_AIR.code), (ON_OXYGEN.system, ON_OXYGEN.code)}
    out["rd"] = {(RESP_DISTRESS.system, RESP_DISTRESS.code)}
    out["crt"] = {(CAPILLARY_REFILL.system, CAPILLARY_REFILL.code)}
    out["news2"] = {(NEWS2.system, NEWS2.code)}
    out["npews"] = {(NPEWS.system, NPEWS.code)}
    return out
