"""Demo history: every admitted patient gets scored readings for the last days, and nobody is paged about them."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from device_sim.history import backfill_history
from tests.integration.mqtt_helpers import admit_patients, count
from vward.config import Settings


def test_backfill_stores_scored_history_without_alerts(settings: Settings, clean_db: psycopg.Connection) -> None:
    now = datetime.now(UTC)
    kits = admit_patients(clean_db, settings, 3, ward_code="palliative")
    stored = backfill_history(clean_db, settings, now=now, days=0.5)
    assert stored == count(clean_db, "SELECT count(*) FROM readings") > 0
    per_admission = dict(clean_db.execute("SELECT admission_id, count(*) FROM readings GROUP BY 1").fetchall())
    assert set(per_admission) == {k["admission_id"] for k in kits}
    assert count(clean_db, "SELECT count(*) FROM readings WHERE news2_risk IS NULL") == 0
    assert count(clean_db, "SELECT count(*) FROM readings WHERE news2_complete") > 0  # all five devices reported
    assert count(clean_db, "SELECT count(*) FROM alerts") == 0
    assert backfill_history(clean_db, settings, now=now, days=0.5) == 0  # only patients with no readings yet
