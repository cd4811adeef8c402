"""NEWS2 is for adults: a child's readings are stored unscored and raise no score alerts (migration 0006)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from readings.columns import AcceptedReading
from readings.store import store_readings
from tests.integration.mqtt_helpers import admit_patients
from tests.integration.ui_helpers import app_client, sign_in
from vward.config import Settings

ADMITTED = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("born", "applies"),
    [
        (date(2010, 3, 10), True),  # 16 on the day of admission (UTC)
        (date(2010, 3, 11), False),  # 16 the next day
        (date(2008, 2, 29), True),
        (date(1940, 1, 1), True),
        (date(2025, 12, 1), False),
    ],
)
def test_news2_applies_from_the_sixteenth_birthday(clean_db: psycopg.Connection, born: date, applies: bool) -> None:
    row = clean_db.execute("SELECT vward_news2_applies(%s, %s)", (ADMITTED, born)).fetchone()
    assert row == (applies,)


def test_a_childs_readings_are_stored_unscored_and_raise_no_score_alert(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    adult = int(admit_patients(clean_db, settings, 1, seed=1)[0]["admission_id"])
    child = int(admit_patients(clean_db, settings, 1, seed=2, ward_code="paediatric", child=True)[0]["admission_id"])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    # rr 40 and pulse 135 would each score 3 for an adult: a low-medium alert at least
    batch = [AcceptedReading(f"kit-{a}", a, t0, t0, rr=40, hr=135, spo2=97) for a in (adult, child)]
    with clean_db.transaction():
        store_readings(clean_db, batch, settings=settings, now=t0)
    rows = clean_db.execute(
        "SELECT admission_id, news2_total, news2_complete, news2_risk, score_rr, score_pulse, score_spo2, rr"
        " FROM readings ORDER BY admission_id"
    ).fetchall()
    assert rows == [(adult, 6, False, "medium", 3, 3, 0, 40.0), (child, None, None, None, None, None, None, 40.0)]
    alerts = clean_db.execute("SELECT admission_id, trigger FROM alerts").fetchall()
    assert alerts == [(adult, "news2")]
    state = clean_db.execute("SELECT rr, hr FROM observation_state WHERE admission_id = %s", (child,)).fetchone()
    assert state == (40.0, 135.0)  # the child's vitals are kept, and charted, all the same

    with app_client(settings) as nurse:
        nurse.headers["X-CSRF-Token"] = sign_in(nurse, "nurse.community")
        page = nurse.get(f"/patients/{child}", headers={"Accept": "text/html"}).text
        assert 'id="news2-not-applicable"' in page
        assert 'id="news2-not-applicable"' not in nurse.get(f"/patients/{adult}", headers={"Accept": "text/html"}).text
        r = nurse.post(f"/api/patients/{child}/observations", json={"rr": 45, "consciousness": "V"})
        assert r.status_code == 201
    latest = clean_db.execute(
        "SELECT rr, consciousness, news2_total FROM readings WHERE admission_id = %s ORDER BY measured_at DESC",
        (child,),
    ).fetchone()
    assert latest == (45.0, "V", None)
    # No NEWS2 alert for a child; since issue 15 the national PEWS scores them (AVPU V: an NPEWS alert).
    assert clean_db.execute(
        "SELECT count(*) FROM alerts WHERE admission_id = %s AND score = 'news2'", (child,)
    ).fetchone() == (0,)
