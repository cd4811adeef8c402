"""The site header counts open alerts by band on every clinician page, and keeps the count live: on the queue
through the alert stream, on a patient record through its light poll (driven here by Playwright's clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import redis
from playwright.sync_api import Browser, Page, expect

from alerting.actions import apply_action
from alerting.outbox import publish_pending
from tests.browser.alert_seeds import seed_news2, seed_single_parameter
from tests.browser.test_ui_browser import SHOTS, server, sign_in
from vward.config import Settings

__all__ = ["server"]


def act(conn: psycopg.Connection, r: redis.Redis, settings: Settings, alert_id: int, *actions: str) -> None:
    """Another clinician works the alert (the real domain code), and its events go out on the stream."""
    actor = conn.execute("SELECT id FROM users WHERE username = 'coordinator'").fetchone()
    assert actor is not None
    for action in actions:
        with conn.transaction():
            apply_action(
                conn,
                alert_id=alert_id,
                action=action,
                actor_id=actor[0],
                now=datetime.now(UTC),
                response_kind="phone" if action == "respond" else None,
            )
    publish_pending(conn, r, settings=settings)


def header_says(page: Page, *words: str) -> None:
    for text in words:
        expect(page.locator("#alert-counts")).to_contain_text(text)


def test_header_counts_by_band_on_every_page_change_without_a_reload(
    server: str, clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    high = seed_news2(clean_db, settings, now)
    low_medium = seed_single_parameter(clean_db, settings, now)
    high_alert = clean_db.execute("SELECT id FROM alerts WHERE admission_id = %s", (high,)).fetchone()
    assert high_alert is not None
    context = browser.new_context(viewport={"width": 360, "height": 740})
    queue = context.new_page()
    sign_in(queue, server, "nurse.community")
    header_says(queue, "1 high", "1 low-medium", "2 to acknowledge")
    assert queue.title().startswith("(1 high, 1 low-medium) Alerts")
    expect(queue.locator("#live-status")).to_have_text("Live")

    record = context.new_page()
    record.clock.install()
    record.goto(f"{server}/patients/{low_medium}")
    header_says(record, "1 high", "1 low-medium", "2 to acknowledge")
    assert record.title().startswith("(1 high, 1 low-medium) Vik Single")
    assert record.evaluate("document.documentElement.scrollWidth") <= 360  # compact at 360 px
    record.screenshot(path=str(SHOTS / "header-counts-patient-360.png"))
    for page in (queue, record):
        page.evaluate("document.body.dataset.loadedOnce = 'yes'")  # gone if the page reloads

    act(clean_db, redis_client, settings, high_alert[0], "acknowledge")
    header_says(queue, "1 high", "1 low-medium", "1 to acknowledge")  # through the alert stream
    record.clock.fast_forward(20_000)  # past the record's poll
    header_says(record, "1 high", "1 low-medium", "1 to acknowledge")

    act(clean_db, redis_client, settings, high_alert[0], "respond", "resolve")
    for page in (queue, record):
        if page is record:
            record.clock.fast_forward(20_000)
        header_says(page, "1 low-medium", "1 to acknowledge")
        expect(page.locator("#alert-counts")).not_to_contain_text("high")
        assert page.title().startswith("(1 low-medium) ")
        assert page.evaluate("document.body.dataset.loadedOnce") == "yes"
    queue.screenshot(path=str(SHOTS / "header-counts-queue-360.png"))
