"""The patient record in headless Chromium: the alert says why, is worked from the patient page, and the
timeline says who did what; an empty cell carries no risk colour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from playwright.sync_api import expect, sync_playwright

from tests.browser.alert_seeds import seed_news2, store
from tests.browser.test_ui_browser import ARGS, SHOTS, server, sign_in
from vward.config import Settings

__all__ = ["server"]


def test_alert_worked_from_the_patient_page_and_its_timeline(
    server: str, clean_db: psycopg.Connection, settings: Settings
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    admission_id = seed_news2(clean_db, settings, now)
    store(clean_db, settings, admission_id, now - timedelta(minutes=2), hr=80)  # a pulse alone: RR cell empty
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
            sign_in(page, server, "nurse.community")
            page.goto(f"{server}/patients/{admission_id}")
            history = page.locator("#alert-history li.alert").first
            expect(history.locator(".why")).to_contain_text("NEWS2 8, high risk: respiration rate 3")
            history.locator("summary").click()
            history.get_by_role("button", name="Acknowledge").click()
            page.wait_for_url(f"{server}/patients/{admission_id}")
            expect(page.locator("#alert-history .status").first).to_contain_text("acknowledged by Sam Okafor")
            expect(page.locator("#timeline")).to_contain_text("acknowledged")
            expect(page.locator("#timeline")).to_contain_text("Sam Okafor")
            expect(page.locator("#timeline")).to_contain_text("raised (high alert, news2) · system")
            newest = page.locator("table.obs tbody tr").first
            expect(newest.locator("td").nth(2)).to_have_text("")  # the pulse-only reading has no RR
            assert newest.locator("td").nth(2).get_attribute("class") is None
            page.screenshot(path=str(SHOTS / "patient-record-360.png"), full_page=True)
        finally:
            browser.close()
