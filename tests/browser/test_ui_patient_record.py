"""The patient record in headless Chromium: the alert says why, is worked from the patient page, and the
timeline says who did what; an empty cell carries no risk colour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from playwright.sync_api import Browser, expect

from tests.browser.alert_seeds import HIGH_8, admit, seed_news2, store
from tests.browser.test_ui_browser import SHOTS, server, sign_in
from vward.config import Settings

__all__ = ["server"]


def test_alert_worked_from_the_patient_page_and_its_timeline(
    browser: Browser, server: str, clean_db: psycopg.Connection, settings: Settings
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    admission_id = seed_news2(clean_db, settings, now)
    store(clean_db, settings, admission_id, now - timedelta(minutes=2), **{**HIGH_8, "hr": 116})  # same set score
    pulse_only = admit(clean_db, 9, "Pulse", ward="frailty", admitted_at=now - timedelta(hours=1))
    store(clean_db, settings, pulse_only, now - timedelta(minutes=3), hr=80)  # no RR in its set
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
    newest = page.locator("#sets-table tbody tr")
    expect(newest).to_have_count(1)  # two readings, one observation set: one row
    newest.locator("summary").click()
    expect(newest.locator("ul.readings li")).to_have_count(2)
    page.goto(f"{server}/patients/{pulse_only}")
    rr = page.locator("#sets-table tbody tr").first.locator("td").nth(2)
    expect(rr).to_have_text("")
    assert rr.get_attribute("class") is None  # an empty cell carries no risk colour
    page.screenshot(path=str(SHOTS / "patient-record-pulse-only-360.png"), full_page=True)


def test_an_alert_is_acknowledged_by_keyboard_alone(
    browser: Browser, server: str, clean_db: psycopg.Connection, settings: Settings
) -> None:
    """Tab to the card's actions, open them with Enter, acknowledge with Enter: no pointer needed."""
    admission_id = seed_news2(clean_db, settings, datetime.now(UTC))
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in(page, server, "nurse.community")
    summary = page.locator("li.alert summary").first
    for _ in range(40):  # Tab through the page until the card's actions have the focus
        page.keyboard.press("Tab")
        if summary.evaluate("el => el === document.activeElement"):
            break
    assert summary.evaluate("el => el === document.activeElement"), "the actions are not reachable by Tab"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Acknowledge")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("li.alert .status").first).to_contain_text("acknowledged by Sam Okafor")
    status = clean_db.execute("SELECT status FROM alerts WHERE admission_id = %s", (admission_id,)).fetchone()
    assert status == ("acknowledged",)
