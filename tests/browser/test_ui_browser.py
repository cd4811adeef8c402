"""End to end in headless Chromium: sign-in, a full ward's refusal, a deteriorating patient's alert arriving
live in the nurse's queue (raised through the real ingest store and outbox), worked to resolution, discharge.

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import redis
from playwright.sync_api import Browser, Page, expect

from alerting.outbox import publish_pending
from readings.columns import AcceptedReading
from readings.store import store_readings
from tests.browser.conftest import ARGS as ARGS  # for browser tests that start Playwright themselves
from tests.integration.ui_helpers import nhs, seed_users, served
from vward.config import Settings
from vward.seed import DEMO_PASSWORD

SHOTS = Path("test-artifacts/screenshots")


@pytest.fixture
def server(clean_db: psycopg.Connection, settings: Settings) -> Iterator[str]:
    seed_users(clean_db)
    with served(settings, timeout_graceful_shutdown=10) as base:
        yield base


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def confirm(page: Page, question: str, action: str) -> None:
    """Answers the page's confirmation dialog (static/app.js) with its action button."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_text(re.compile(re.escape(question)))
    dialog.get_by_role("button", name=action).click()


def admit(page: Page, base: str, n: int, ward: str) -> None:
    page.goto(f"{base}/admissions/new")
    page.get_by_label("NHS number").fill(nhs(n))
    page.get_by_label("Given name").fill("Iris")
    page.get_by_label("Family name").fill(f"Browser{n}")
    page.get_by_label("Date of birth").fill("1941-05-06")
    page.get_by_label("Ward").select_option(label=ward)
    page.get_by_role("button", name="Admit").click()
    page.wait_for_load_state()


def test_admit_full_ward_live_alert_and_discharge(
    browser: Browser,
    server: str,
    clean_db: psycopg.Connection,
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    coord = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    sign_in(coord, server, "coordinator")
    coord.goto(f"{server}/capacity")
    coord.get_by_label("Beds for Acute oncology virtual ward").fill("2")
    coord.locator("#ward-oncology").get_by_role("button", name="Set").click()
    confirm(coord, "Cut Acute oncology virtual ward from 10 to 2 beds?", "Set")
    expect(coord.locator("#ward-oncology td").nth(1)).to_have_text("2")  # the page came back with it
    for n in (1, 2):
        admit(coord, server, n, "Acute oncology virtual ward")
        expect(coord.get_by_role("heading", name=f"Iris Browser{n}")).to_be_visible()
    admit(coord, server, 3, "Acute oncology virtual ward")
    refusal = coord.locator("form .form-error")  # beside the form, the input kept
    expect(refusal).to_contain_text("Acute oncology virtual ward is full (2 of 2")
    expect(refusal).to_contain_text("Wards with free beds")
    expect(coord.get_by_label("Family name")).to_have_value("Browser3")
    coord.screenshot(path=str(SHOTS / "ward-full-refusal.png"), full_page=True)

    nurse = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # a phone
    sign_in(nurse, server, "nurse.community")
    expect(nurse.locator("#queue-empty")).to_be_visible()
    expect(nurse.locator("#live-status")).to_have_text("Live")
    nurse.screenshot(path=str(SHOTS / "hub-empty-phone.png"), full_page=True)

    admission_id = clean_db.execute("SELECT id FROM admissions ORDER BY id LIMIT 1").fetchone()[0]
    now = datetime.now(UTC)
    reading = AcceptedReading(
        device_id="ox-browser",
        admission_id=admission_id,
        measured_at=now,
        received_at=now,
        rr=29,
        spo2=86,
        on_oxygen=True,
        sbp=89,
        dbp=55,
        hr=132,
        temp=39.2,
        consciousness="A",
    )
    with clean_db.transaction():
        store_readings(clean_db, [reading], settings=settings, now=now)
    publish_pending(clean_db, redis_client, settings=settings)

    row = nurse.locator("li.alert").first
    expect(row).to_contain_text("Iris Browser1", timeout=15_000)  # arrived without a reload
    expect(row.locator(".badge")).to_have_text("high")
    nurse.screenshot(path=str(SHOTS / "hub-live-alert-phone.png"), full_page=True)

    row.locator("summary").click()
    row.get_by_role("button", name="Acknowledge").click()
    expect(nurse.locator("li.alert .status").first).to_contain_text("acknowledged")
    row = nurse.locator("li.alert").first
    row.locator("summary").click()
    row.get_by_label("Note").fill("Phoned: breathless, GP informed")
    row.get_by_role("button", name="Add note").click()
    nurse.wait_for_load_state()
    row = nurse.locator("li.alert").first
    row.locator("summary").click()
    row.get_by_label("Response").select_option("home_visit")
    row.get_by_role("button", name="Record response").click()
    expect(nurse.locator("li.alert .status").first).to_contain_text("responded")
    row = nurse.locator("li.alert").first
    row.locator("summary").click()
    row.get_by_role("button", name="Resolve").click()
    expect(nurse.locator("#queue-empty")).to_be_visible()
    nurse.screenshot(path=str(SHOTS / "hub-resolved-phone.png"), full_page=True)

    coord.goto(f"{server}/patients/{admission_id}")
    expect(coord.locator("#notes")).to_contain_text("Phoned: breathless, GP informed")
    coord.get_by_label("Outcome").select_option("recovered_at_home")
    coord.get_by_role("button", name="Discharge").click()
    confirm(coord, "Discharge Iris Browser1, outcome: Recovered at home?", "Discharge")
    expect(coord.get_by_text("discharged", exact=False).first).to_be_visible()
    coord.screenshot(path=str(SHOTS / "patient-discharged.png"), full_page=True)
    assert (
        clean_db.execute("SELECT discharge_outcome FROM admissions WHERE id = %s", (admission_id,)).fetchone()[0]
        == "recovered_at_home"
    )
