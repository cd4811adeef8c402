"""The LLR virtual wards (236 beds), demo clinicians and demo patients with their home device kits."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg

from vward.mqtt_auth import demo_device_password, device_password_hashes
from vward.nhs_number import random_valid
from vward.passwords import hash_password as hash_user_password


@dataclass(frozen=True)
class WardSeed:
    code: str
    name: str
    pathway: str
    bed_capacity: int
    expected_reading_minutes: int


# Leicester, Leicestershire & Rutland: 236 beds over eleven wards, grouped by clinical pathway.
LLR_WARDS: tuple[WardSeed, ...] = (
    WardSeed("resp-copd", "Respiratory (COPD) virtual ward", "respiratory", 40, 240),
    WardSeed("resp-ari", "Acute respiratory infection virtual ward", "respiratory", 22, 240),
    WardSeed("covid-oxi", "COVID-19 oximetry virtual ward", "respiratory", 12, 240),
    WardSeed("heart-failure", "Heart failure virtual ward", "cardiology", 30, 360),
    WardSeed("frailty", "Frailty virtual ward", "frailty", 34, 360),
    WardSeed("palliative", "Palliative and end of life virtual ward", "palliative", 20, 720),
    WardSeed("acute-medicine", "Acute medicine step-down virtual ward", "acute-medicine", 18, 240),
    WardSeed("surgical", "Surgical step-down virtual ward", "surgery", 16, 360),
    WardSeed("opat", "Community IV therapy (OPAT) virtual ward", "infection", 20, 720),
    WardSeed("oncology", "Acute oncology virtual ward", "oncology", 10, 360),
    WardSeed("paediatric", "Children's virtual ward", "paediatrics", 14, 360),
)

# Demo sign-ins for the local platform only (printed by `vward up`); production creates real users.
DEMO_PASSWORD = "vward-demo"
DEMO_USERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("nurse.resp", "Rosa Patel (respiratory nurse)", "nurse", ("resp-copd", "resp-ari", "covid-oxi")),
    ("nurse.community", "Sam Okafor (community nurse)", "nurse", tuple(w.code for w in LLR_WARDS)),
    ("coordinator", "Jo Walsh (ward coordinator)", "coordinator", tuple(w.code for w in LLR_WARDS)),
    ("admin", "Admin", "admin", ()),
)

DEVICE_KINDS: dict[str, str] = {
    "pulse_oximeter": "ox",
    "bp_cuff": "bp",
    "thermometer": "th",
    "wearable": "wr",
    "checkin": "ci",
}

_GIVEN = (
    "Ada",
    "Ben",
    "Carys",
    "Dev",
    "Ewa",
    "Faisal",
    "Grace",
    "Hamza",
    "Iris",
    "Jamal",
    "Kiran",
    "Lena",
    "Mo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Ravi",
    "Sofia",
    "Tom",
    "Uma",
    "Vik",
    "Wendy",
    "Yusuf",
)
_FAMILY = (
    "Ahmed",
    "Brown",
    "Chauhan",
    "Davies",
    "Evans",
    "Fernandes",
    "Green",
    "Hussain",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Mistry",
    "Nowak",
    "O'Neill",
    "Parmar",
    "Roberts",
    "Singh",
    "Taylor",
    "Walker",
)


def seed_wards(conn: psycopg.Connection) -> None:
    """Creates the LLR wards if absent; leaves capacities a coordinator has changed alone."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO wards (code, name, pathway, bed_capacity, expected_reading_minutes)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING",
            [(w.code, w.name, w.pathway, w.bed_capacity, w.expected_reading_minutes) for w in LLR_WARDS],
        )


def seed_demo_users(conn: psycopg.Connection) -> None:
    for username, display, role, wards in DEMO_USERS:
        row = conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (username) DO NOTHING RETURNING id",
            (username, display, role, hash_user_password(DEMO_PASSWORD)),
        ).fetchone()
        if row:
            conn.execute(
                "INSERT INTO user_wards (user_id, ward_id) SELECT %s, id FROM wards WHERE code = ANY(%s)",
                (row[0], list(wards)),
            )


def device_id(kind: str, admission_id: int) -> str:
    return f"{DEVICE_KINDS[kind]}-{admission_id:06d}"


def seed_demo_patients(
    conn: psycopg.Connection, *, device_secret: str, occupancy: float, rng_seed: int, now: datetime | None = None
) -> int:
    """Admits demo patients until each ward is at ``occupancy`` of its beds; each gets a full device kit.

    Returns the number admitted. Idempotent: wards already at or above the target get nobody new.
    """
    rng = random.Random(rng_seed)
    now = now or datetime.now(UTC)
    admitted = 0
    wards = conn.execute(
        "SELECT w.id, w.code, w.pathway, w.bed_capacity, count(a.id) FROM wards w"
        " LEFT JOIN admissions a ON a.ward_id = w.id AND a.discharged_at IS NULL"
        " GROUP BY w.id ORDER BY w.id"
    ).fetchall()
    for ward_id, code, pathway, capacity, occupied in wards:
        for _ in range(max(0, round(capacity * occupancy) - occupied)):
            admit_demo_patient(
                conn,
                ward_id,
                device_secret=device_secret,
                rng=rng,
                now=now,
                hypercapnic=code == "resp-copd" and rng.random() < 0.5,
                child=pathway == "paediatrics",
            )
            admitted += 1
    return admitted


def admit_demo_patient(
    conn: psycopg.Connection,
    ward_id: int,
    *,
    device_secret: str,
    rng: random.Random,
    now: datetime,
    hypercapnic: bool = False,
    child: bool = False,
    admitted_at: datetime | None = None,
) -> int:
    """Admits a new demo patient (aged 2 to 15 if ``child``, else 25 to 95) with a full device kit (demo
    credentials); returns the admission id."""
    born = now.date() - timedelta(days=rng.randrange(365 * 2, 365 * 15) if child else rng.randrange(365 * 25, 365 * 95))
    patient_id = _insert_patient(conn, rng, born)
    admission = conn.execute(
        "INSERT INTO admissions (patient_id, ward_id, source, admitted_at, spo2_scale,"
        " spo2_scale_set_by, spo2_scale_set_at, spo2_scale_reason)"
        " VALUES (%s, %s, %s, %s, %s,"
        "  (SELECT id FROM users WHERE role <> 'admin' ORDER BY id LIMIT 1), %s, %s) RETURNING id",
        (
            patient_id,
            ward_id,
            rng.choice(("step_up", "step_down")),
            admitted_at or now - timedelta(hours=rng.uniform(2, 24 * 10)),
            2 if hypercapnic else 1,
            now if hypercapnic else None,
            "Confirmed hypercapnic respiratory failure on ABG (demo)" if hypercapnic else None,
        ),
    ).fetchone()
    assert admission is not None
    for kind in DEVICE_KINDS:
        dev = device_id(kind, admission[0])
        conn.execute(
            "INSERT INTO devices (id, kind, serial, mqtt_password_hash, rabbitmq_password_hash, admission_id)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (
                dev,
                kind,
                f"SIM-{dev.upper()}",
                *device_password_hashes(demo_device_password(device_secret, dev)),
                admission[0],
            ),
        )
    return int(admission[0])


def _insert_patient(conn: psycopg.Connection, rng: random.Random, born: date) -> int:
    while True:
        row = conn.execute(
            "INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (nhs_number) DO NOTHING RETURNING id",
            (random_valid(rng), rng.choice(_GIVEN), rng.choice(_FAMILY), born),
        ).fetchone()
        if row:
            return int(row[0])
