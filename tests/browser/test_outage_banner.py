"""kill -9 of the hub, seen from a nurse's open hub page in headless Chromium: the outage banner appears once
the hub has been silent for the threshold, the reminders that fall due meanwhile wait, a second hub takes
over, the banner goes, and every reminder due in the meantime is sent (recorded and pushed) exactly once.

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import http_ece
import psycopg
import pytest
import redis
from playwright.sync_api import Browser, expect

from alerting.push import ensure_vapid_key
from tests.browser.test_ui_browser import SHOTS, sign_in
from tests.integration.hub_processes import hubs, make_due, open_alerts, reminders, wait_beating, wait_for, wait_until
from tests.integration.test_web_push import PushService, push_service, subscribe
from tests.integration.ui_helpers import seed_users, served
from vward import heartbeat
from vward.config import Settings

__all__ = ["push_service"]  # the fixture, shared with test_web_push
STALE_S = 4.0  # the banner's threshold here (default 30 s)
BANNER_WAIT_MS = 60_000  # a bound for a busy machine; the banner itself waits for STALE_S of silence


@pytest.fixture
def cfg(settings: Settings, tmp_path: Path) -> Settings:
    ensure_vapid_key(tmp_path / "vapid.pem")
    return settings.model_copy(
        update={
            "vapid_private_key_path": tmp_path / "vapid.pem",
            "push_allow_test_endpoints": True,
            "hub_tick_s": 0.3,
            "heartbeat_interval_s": 0.5,
            "heartbeat_stale_s": STALE_S,
            "hub_push_retry_s": 2.0,
            "escalation_reminder_interval": timedelta(hours=1),
        }
    )


@pytest.fixture
def web(clean_db: psycopg.Connection, cfg: Settings) -> Iterator[str]:
    seed_users(clean_db)
    with served(cfg) as base:
        yield base


@pytest.fixture
def ingest_alive(cfg: Settings) -> Iterator[None]:
    """Ingest's heartbeat (this test is about the hub): beats until the test ends."""
    stop = threading.Event()

    def run() -> None:
        with psycopg.connect(cfg.database_url, autocommit=True) as conn:
            while not stop.is_set():
                heartbeat.beat(conn, component="ingest", instance="ingest-test", now=datetime.now(UTC))
                stop.wait(cfg.heartbeat_interval_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


def reminder_pushes(service: PushService, key: object, auth: bytes) -> Counter[int]:
    counts: Counter[int] = Counter()
    for _, _, body in list(service.received):
        payload = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm"))
        counts[payload["alert_id"]] += payload["event"] == "reminder"
    return counts


def test_kill_9_of_the_hub_shows_the_banner_and_a_second_hub_sends_each_due_reminder_once(
    browser: Browser,
    web: str,
    ingest_alive: None,
    clean_db: psycopg.Connection,
    redis_client: redis.Redis,  # flushed: earlier tests' delivery keys name the same (restarted) ids
    cfg: Settings,
    push_service: PushService,
    tmp_path: Path,
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    nurse_id = clean_db.execute("SELECT id FROM users WHERE username = 'nurse.community'").fetchone()
    assert nurse_id is not None
    key, auth = subscribe(clean_db, nurse_id[0], f"{push_service.url}/push/phone")
    alert_ids = open_alerts(clean_db, cfg, 6)
    started = datetime.now(UTC)
    with hubs(cfg, tmp_path, "hub-a") as first:
        wait_beating(clean_db, "hub-a", started)
        context = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            page = context.new_page()
            sign_in(page, web, "nurse.community")
            banner = page.locator("#outage-banner")
            expect(page.locator("#live-status")).to_have_text("Live", timeout=BANNER_WAIT_MS)
            expect(banner).to_be_hidden()

            first["hub-a"].kill9()
            last_beat = clean_db.execute("SELECT beat_at FROM heartbeats WHERE instance = 'hub-a'").fetchone()
            assert last_beat is not None
            due = make_due(clean_db, alert_ids)  # reminders fall due while no hub runs
            expect(banner).to_be_visible(timeout=BANNER_WAIT_MS)
            expect(banner).to_have_text(
                f"Alert hub offline since {last_beat[0].astimezone(UTC):%H:%M} UTC"
                " — escalations and push paused; watch the queue"
            )
            page.screenshot(path=str(SHOTS / "hub-offline-banner-phone.png"), full_page=True)
            wait_until(clean_db, "SELECT now() > %s", (due,), "the reminders to fall due")
            assert reminders(clean_db, alert_ids) == {a: 0 for a in alert_ids}  # nobody to send them

            with hubs(cfg, tmp_path, "hub-b") as second:  # the supervisor's restart, or a standby hub
                expect(banner).to_be_hidden(timeout=BANNER_WAIT_MS)
                wait_until(clean_db, "SELECT count(*) = %s FROM alert_events WHERE event = 'reminder'",
                           (len(alert_ids),), "the due reminders")  # fmt: skip
                wait_for(lambda: reminder_pushes(push_service, key, auth).total() >= len(alert_ids), "the pushes")
                wait_until(clean_db, "SELECT bool_and(published) FROM alert_events", (), "the outbox sweep")
                page.screenshot(path=str(SHOTS / "hub-back-phone.png"), full_page=True)
                assert second["hub-b"].errors() == []
        finally:
            context.close()
    assert reminders(clean_db, alert_ids) == {a: 1 for a in alert_ids}
    assert reminder_pushes(push_service, key, auth) == Counter({a: 1 for a in alert_ids})
