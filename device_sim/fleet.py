"""Which devices the simulator drives: the active ones in PostgreSQL, or a synthetic fleet for load tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import psycopg

from alerting.score_choice import ADULT_YEARS, age_band, has_reached
from vward.config import Settings
from vward.mqtt_auth import demo_device_password, device_password_hashes
from vward.nhs_number import random_valid
from vward.seed import DEVICE_KINDS, LLR_WARDS, device_id

LOADTEST_WARD = "loadtest"


@dataclass(frozen=True)
class FleetDevice:
    """A device on an open admission, with what the physiology model needs to know about its patient."""

    device_id: str
    kind: str
    admission_id: int
    ward_code: str
    pathway: str
    spo2_scale: int = 1
    date_of_birth: date | None = None  # known for patients in PostgreSQL: a child's age band sets their vitals

    def age_band(self, on: date) -> int | None:
        """The patient's NPEWS age band on day ``on`` if a child (under 16), else None."""
        if self.date_of_birth is None or has_reached(self.date_of_birth, ADULT_YEARS, on):
            return None
        return age_band(self.date_of_birth, on)


_ACTIVE_DEVICES = (
    "SELECT d.id, d.kind, a.id, w.code, w.pathway, a.spo2_scale, p.date_of_birth FROM devices d"
    " JOIN admissions a ON a.id = d.admission_id AND a.discharged_at IS NULL"
    " JOIN patients p ON p.id = a.patient_id JOIN wards w ON w.id = a.ward_id ORDER BY d.id"
)


def load_fleet(conn: psycopg.Connection) -> list[FleetDevice]:
    """The devices of every patient currently admitted (discharged patients' devices fall silent)."""
    return [
        FleetDevice(str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), int(r[5]), r[6])
        for r in conn.execute(_ACTIVE_DEVICES).fetchall()
    ]


def synthetic_fleet(n_devices: int) -> list[FleetDevice]:
    """``n_devices`` devices in full kits over the LLR wards, without a database (publisher benchmarks).

    Ingest quarantines readings from devices it does not know: to load-test the whole path, register the
    fleet with :func:`register_synthetic_fleet` and load it from the database instead.
    """
    if n_devices < 1:
        raise ValueError("a synthetic fleet needs at least one device")
    kinds = list(DEVICE_KINDS)
    fleet = []
    for i in range(n_devices):
        admission = i // len(kinds) + 1
        ward = LLR_WARDS[(admission - 1) % len(LLR_WARDS)]
        kind = kinds[i % len(kinds)]
        fleet.append(FleetDevice(device_id(kind, admission), kind, admission, ward.code, ward.pathway))
    return fleet


def register_synthetic_fleet(
    conn: psycopg.Connection, n_patients: int, settings: Settings, *, rng_seed: int = 0
) -> list[FleetDevice]:
    """Admits ``n_patients`` test patients to a ``loadtest`` ward, each with a full kit and demo credentials.

    For load tests of tens of thousands of devices: the ward is separate so the LLR wards' capacity and
    utilisation stay true, and it is sized to hold them. Inserts in bulk; returns the new devices. Call
    ``vward.services.sync_device_credentials`` afterwards so the broker knows the passwords.
    """
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    rng = random.Random(rng_seed)
    with conn.transaction():
        ward_id = _loadtest_ward(conn, n_patients)
        taken = {r[0] for r in conn.execute("SELECT nhs_number FROM patients").fetchall()}
        numbers: list[str] = []
        while len(numbers) < n_patients:
            number = random_valid(rng)
            if number not in taken:
                taken.add(number)
                numbers.append(number)
        patient_ids = [
            r[0]
            for r in conn.execute(
                "INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth)"
                " SELECT n, 'Load', 'Test', date '1950-01-01' FROM unnest(%s::text[]) WITH ORDINALITY AS t(n, i)"
                " ORDER BY i RETURNING id",
                (numbers,),
            ).fetchall()
        ]
        admission_ids = [
            int(r[0])
            for r in conn.execute(
                "INSERT INTO admissions (patient_id, ward_id, source, admitted_at)"
                " SELECT p, %s, 'step_up', now() - interval '1 day'"
                " FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(p, i)"
                " ORDER BY i RETURNING id",
                (ward_id, patient_ids),
            ).fetchall()
        ]
        rows = [
            (
                device_id(kind, adm),
                kind,
                f"SIM-{device_id(kind, adm).upper()}",
                *device_password_hashes(demo_device_password(settings.sim_device_secret, device_id(kind, adm))),
                adm,
            )
            for adm in admission_ids
            for kind in DEVICE_KINDS
        ]
        columns = "id, kind, serial, mqtt_password_hash, rabbitmq_password_hash, admission_id"
        with conn.cursor().copy(f"COPY devices ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return [FleetDevice(r[0], r[1], r[5], LOADTEST_WARD, "general") for r in rows]


def _loadtest_ward(conn: psycopg.Connection, n_patients: int) -> int:
    row = conn.execute(
        "INSERT INTO wards (code, name, pathway, bed_capacity, expected_reading_minutes)"
        " VALUES (%s, 'Load test (synthetic patients)', 'general', 0, 360)"
        " ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code RETURNING id",
        (LOADTEST_WARD,),
    ).fetchone()
    assert row is not None
    ward_id = int(row[0])
    conn.execute(
        "UPDATE wards SET bed_capacity = (SELECT count(*) FROM admissions"
        " WHERE ward_id = %(w)s AND discharged_at IS NULL) + %(n)s WHERE id = %(w)s",
        {"w": ward_id, "n": n_patients},
    )
    return ward_id
