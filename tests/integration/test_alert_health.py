"""Heartbeats made visible: /healthz per component, the outage banner's status, and coordinators told once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from alerting import liveness, outage
from alerting.delivery import PushDelivery
from alerting.push import ensure_vapid_key, load_vapid_key
from tests.integration.alert_helpers import clinician
from tests.integration.test_web_push import PushService, push_service, subscribe
from tests.integration.ui_helpers import app_client, seed_users, sign_in
from vward import heartbeat
from vward.config import Settings

__all__ = ["push_service"]  # the fixture, shared with test_web_push


def beat(conn: psycopg.Connection, component: str, at: datetime) -> None:
    heartbeat.beat(conn, component=component, instance=f"{component}-0", now=at)


def test_healthz_reports_every_component_and_503_when_the_hub_is_silent(
    clean_db: psycopg.Connection, settings: Settings
) -> None:
    now = datetime.now(UTC)
    with app_client(settings) as client:
        assert client.get("/livez").json() == {"status": "ok"}  # the container's check: this process is fine
        r = client.get("/healthz")
        assert r.status_code == 503  # nothing has beaten yet
        assert r.json()["components"]["hub"] == {"ok": False, "last_beat_at": None, "age_s": None}
        beat(clean_db, "ingest", now)
        beat(clean_db, "hub", now)
        r = client.get("/healthz")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ok"
        assert {k: v["ok"] for k, v in body["components"].items()} == {
            "database": True, "redis": True, "broker": True, "ingest": True, "hub": True, "web": True,
        }  # fmt: skip
        assert body["components"]["hub"]["last_beat_at"] == now.isoformat()
        beat(clean_db, "hub", now - timedelta(seconds=settings.heartbeat_stale_s + 5))
        r = client.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "degraded"
        assert r.json()["components"]["hub"]["ok"] is False
        assert r.json()["components"]["hub"]["age_s"] >= settings.heartbeat_stale_s + 5


def test_every_clinician_page_carries_the_banner_and_status_says_what_is_down(
    clean_db: psycopg.Connection, settings: Settings
) -> None:
    seed_users(clean_db)
    silent_since = datetime(2026, 11, 29, 17, 29, 5, tzinfo=UTC)
    beat(clean_db, "hub", silent_since)
    beat(clean_db, "ingest", datetime.now(UTC))
    with app_client(settings) as nurse:
        assert nurse.get("/api/status").status_code == 401
        sign_in(nurse, "nurse.community")
        for page in ("/", "/capacity"):
            html = nurse.get(page, headers={"Accept": "text/html"}).text
            assert 'id="outage-banner"' in html and "/static/outage.js" in html
        assert nurse.get("/api/status").json() == {
            "outages": [
                {
                    "component": "hub",
                    "since": silent_since.isoformat(),
                    "text": "Alert hub offline since 17:29 UTC — escalations and push paused; watch the queue",
                }
            ]
        }
        beat(clean_db, "hub", datetime.now(UTC))
        assert nurse.get("/api/status").json() == {"outages": []}
    web = clean_db.execute("SELECT count(*) FROM heartbeats WHERE component = 'web'").fetchone()
    assert web == (1,)  # the web app beats from its start


def test_coordinators_are_pushed_each_outage_once(
    clean_db: psycopg.Connection, settings: Settings, push_service: PushService, tmp_path: Path
) -> None:
    ensure_vapid_key(tmp_path / "vapid.pem")
    cfg = settings.model_copy(update={"push_allow_test_endpoints": True})
    subscribe(clean_db, clinician(clean_db, "coord", role="coordinator"), f"{push_service.url}/push/coord")
    subscribe(clean_db, clinician(clean_db, "nurse"), f"{push_service.url}/push/nurse")
    now = datetime.now(UTC)
    beat(clean_db, "hub", now - timedelta(minutes=5))
    beat(clean_db, "ingest", now)
    seen = liveness.states(heartbeat.latest(clean_db), now=now, stale_after_s=cfg.heartbeat_stale_s)
    web = PushDelivery(cfg, conn=clean_db, vapid=load_vapid_key(tmp_path / "vapid.pem"))
    assert outage.announce(clean_db, web, seen, now=now) == ["hub"]
    assert outage.announce(clean_db, web, seen, now=now) == []  # another process, or the next beat
    assert [p for p, _, _ in push_service.received] == ["/push/coord"]
