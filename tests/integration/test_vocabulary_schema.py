"""The database's CHECK constraints say what ``vward.vocabulary`` says: read from the live schema
(``pg_constraint``), so a migration or a vocabulary change that drifts from the other fails here."""

from __future__ import annotations

import re

import psycopg

from alerting import dead_letters, npews
from vward import db
from vward import vocabulary as v
from vward.config import Settings

# (table, column) -> the vocabulary its IN-list CHECK must equal. Every IN-list CHECK in the schema must be here.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("users", "role"): set(v.Role),
    ("admissions", "source"): set(v.AdmissionSource),
    ("admissions", "discharge_outcome"): set(v.DischargeOutcome),
    ("devices", "kind"): set(v.DeviceKind),
    ("readings", "consciousness"): set(v.ACVPU),
    ("alerts", "trigger"): set(v.Trigger),
    ("alerts", "risk"): set(v.ALERT_RISKS),
    ("alerts", "score"): {"news2", "npews"},
    ("alerts", "status"): set(v.AlertStatus),
    ("alerts", "response_kind"): set(v.ResponseKind),
    ("admissions", "spo2_scale"): {str(scale) for scale in v.SPO2_SCALES},
    ("patients", "sex"): set(v.Sex),
    ("dead_letters", "kind"): set(dead_letters.KINDS),
    ("dead_letters", "status"): {"failing", "parked", "retried", "dismissed"},
    ("signin_throttle", "scope"): {"account", "address"},
    ("hospital_admissions", "encounter_class"): set(v.ENCOUNTER_CLASSES),
}
# Column CHECKs on readings that only the partitioned table has (TimescaleDB before 2.19 refuses them on a
# compressed hypertable; migration 0013).
PARTITIONED_ONLY: dict[tuple[str, str], set[str]] = {
    ("readings", "resp_distress"): set(npews.RESP_DISTRESS_CODES),
    ("readings", "o2_device"): set(npews.OXYGEN_DEVICES),
    ("readings", "carer_answer"): set(npews.CARER_ANSWERS),
    ("readings", "npews_level"): set(npews.LEVELS),
}
_IN_LIST = re.compile(r"\(?(\w+) = ANY \(\(?ARRAY\[([^\]]*)\]")
_LENGTH = re.compile(r"length\((\w+)\) >= (\d+)\) AND \(length\(\1\) <= (\d+)")


def _checks(settings: Settings) -> list[tuple[str, str]]:
    """(table, definition) of every CHECK on a table (a partition's copies folded into its parent)."""
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
            " WHERE c.contype = 'c' AND n.nspname = 'public' AND NOT t.relispartition"
        ).fetchall()
    return [(table, definition) for table, definition in rows]


def _items(array: str) -> set[str]:
    """The elements of an ARRAY[...] literal: 'word'::text or a bare number, as text."""
    return {item.split("::")[0].strip("'") for item in array.split(", ")}


def in_lists(settings: Settings) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for table, definition in _checks(settings):
        for column, items in _IN_LIST.findall(definition):
            found[(table, column)] = _items(items)
    return found


def test_every_closed_vocabulary_in_the_schema_is_the_vocabulary_module(settings: Settings) -> None:
    with db.connect(settings) as conn:
        partitioned = db.storage_mode(conn) == "partitioned"
    assert in_lists(settings) == EXPECTED | (PARTITIONED_ONLY if partitioned else {})


def test_note_length_is_the_vocabulary_limit(settings: Settings) -> None:
    lengths = {
        (table, column): (int(low), int(high))
        for table, definition in _checks(settings)
        for column, low, high in _LENGTH.findall(definition)
    }
    assert lengths[("alert_notes", "body")] == (1, v.MAX_NOTE_CHARS)


def test_the_parser_reads_a_check_definition() -> None:
    definition = "CHECK ((role = ANY (ARRAY['nurse'::text, 'coordinator'::text])))"
    assert [(c, _items(i)) for c, i in _IN_LIST.findall(definition)] == [("role", {"nurse", "coordinator"})]
    assert _items("1, 2") == {"1", "2"}
