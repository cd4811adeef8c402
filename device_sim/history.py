"""Recent history for demo patients, so a fresh demo has charts, trends and baselines from the start.

The readings come from the same physiology as the live simulator (resting state, no deterioration) and
are stored and scored through the reading path (``readings``), as if the devices had sent them; as
imported history they raise no alerts (nobody is paged about yesterday).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta

import psycopg

from device_sim.fleet import FleetDevice, load_fleet
from device_sim.kit import reading
from device_sim.physiology import new_patient, profile_for
from readings.columns import AcceptedReading
from readings.store import store_readings
from vward.config import Settings


def backfill_history(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    now: datetime,
    days: float = 2.0,
    every: timedelta = timedelta(hours=1),
    rng_seed: int = 0,
) -> int:
    """Stores hourly readings for every admitted patient who has none yet; returns how many were stored."""
    silent = {
        row[0]: row[1]
        for row in conn.execute(
            "SELECT a.id, a.admitted_at FROM admissions a LEFT JOIN observation_state o ON o.admission_id = a.id"
            " WHERE a.discharged_at IS NULL AND o.admission_id IS NULL"
        ).fetchall()
    }
    kits: dict[int, list[FleetDevice]] = defaultdict(list)
    for device in load_fleet(conn):
        if device.admission_id in silent:
            kits[device.admission_id].append(device)
    rng = random.Random(rng_seed)
    patients = {
        a: new_patient(
            a,
            profile_for(kit[0].ward_code, kit[0].pathway, kit[0].spo2_scale),
            rng,
            age_band=kit[0].age_band(now.date()),
        )
        for a, kit in kits.items()
    }
    stored = 0
    at = now - timedelta(days=days)
    while at < now - every:
        batch = [
            _accepted(device, reading(device.kind, patients[a], at, at, rng), at)
            for a, kit in kits.items()
            if silent[a] <= at
            for device in kit
        ]
        with conn.transaction():
            stored += store_readings(conn, batch, settings=settings, now=at, raise_alerts=False).stored
        at += every
    return stored


def _accepted(device: FleetDevice, values: dict[str, object], at: datetime) -> AcceptedReading:
    fields = {k: v for k, v in values.items() if k != "measured_at"}
    return AcceptedReading(
        device_id=device.device_id,
        admission_id=device.admission_id,
        measured_at=at,
        received_at=at,
        **fields,  # type: ignore[arg-type]
    )
