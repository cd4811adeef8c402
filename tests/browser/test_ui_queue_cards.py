"""The nurse's queue in headless Chromium: every card says why it was raised (one test per trigger), and a
score that rises after the alert reaches the card without a reload.

Alerts are raised by the real domain code (the reading path, the raising rules, the hub's missed-readings
sweep) against the real database; the page's poll is driven by Playwright's clock, not by waiting for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.alert_seeds import (
    HIGH_8,
    seed_missed_readings,
    seed_news2,
    seed_single_parameter,
    seed_trend,
    store,
)
from tests.browser.test_ui_browser import SHOTS, server, sign_in
from vward.config import Settings

__all__ = ["server"]  # the fixture, shared with test_ui_browser


SEEDS: dict[str, tuple[Callable[[psycopg.Connection, Settings, datetime], int], str]] = {
    "news2": (seed_news2, "NEWS2 8, high risk: respiration rate 3, pulse 2, SpO2 1, systolic BP 1, temperature 1"),
    "single_parameter": (seed_single_parameter, "Single parameter scoring 3: pulse"),
    "trend": (seed_trend, "NEWS2 up 2 from a 24 h baseline of 2 (now 4)"),
    "missed_readings": (seed_missed_readings, "No reading for 2 h 1"),  # 2 h 10 min, or 11 on a slow machine
}


def alert_of(conn: psycopg.Connection, admission_id: int) -> int:
    alert_id = conn.execute("SELECT id FROM alerts WHERE admission_id = %s", (admission_id,)).fetchone()
    assert alert_id is not None
    return int(alert_id[0])


@pytest.mark.parametrize("trigger", list(SEEDS))
def test_each_trigger_says_why_on_its_card(
    trigger: str, browser: Browser, server: str, clean_db: psycopg.Connection, settings: Settings
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    seed, words = SEEDS[trigger]
    admission_id = seed(clean_db, settings, datetime.now(UTC))
    assert clean_db.execute("SELECT trigger FROM alerts WHERE admission_id = %s", (admission_id,)).fetchone() == (
        trigger,
    )
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in(page, server, "nurse.community")
    alert_id = alert_of(clean_db, admission_id)
    why = page.locator(f"#why-{alert_id}")
    expect(why).to_contain_text(words)
    if trigger == "missed_readings":
        expect(why).to_contain_text("expected every 60 min")
    row = page.locator(f"#alert-{alert_id}")
    number = clean_db.execute(
        "SELECT p.nhs_number FROM admissions a JOIN patients p ON p.id = a.patient_id WHERE a.id = %s",
        (admission_id,),
    ).fetchone()
    assert number is not None
    expect(row.locator(".nhs")).to_have_text(f"{number[0][:3]} {number[0][3:6]} {number[0][6:]}")
    expect(row.locator(".who-pt")).to_contain_text(" y male")  # age and sex
    expect(page.locator("#queue-counts")).to_contain_text("1 open")
    assert re.match(r"\(1 [a-z-]+\) Alerts", page.title())  # the count by band in the title
    page.screenshot(path=str(SHOTS / f"queue-{trigger}-360.png"), full_page=True)


def test_a_rising_score_reaches_the_card_without_a_reload(
    browser: Browser, server: str, clean_db: psycopg.Connection, settings: Settings
) -> None:
    """7 → 10 stays 'high': no alert event is sent, so only the page's poll can bring the new score."""
    now = datetime.now(UTC)
    admission_id = seed_news2(clean_db, settings, now)
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    page.clock.install()
    sign_in(page, server, "nurse.community")
    alert_id = alert_of(clean_db, admission_id)
    now_score = page.locator(f"#now-{alert_id}")
    expect(now_score).to_have_text("8")
    expect(page.locator("#live-status")).to_have_text("Live")
    page.evaluate("document.body.dataset.loadedOnce = 'yes'")  # gone if the page reloads
    store(clean_db, settings, admission_id, now - timedelta(minutes=1), **{**HIGH_8, "spo2": 91})
    events = clean_db.execute("SELECT event FROM alert_events ORDER BY id").fetchall()
    assert events == [("raised",)]  # the rise sent no alert event
    page.clock.fast_forward(60_000)  # past the poll interval
    expect(now_score).to_have_text("10")
    expect(page.locator(f"#alert-{alert_id} .at-raise")).to_contain_text("8")
    assert page.evaluate("document.body.dataset.loadedOnce") == "yes"
    page.screenshot(path=str(SHOTS / "queue-live-score-360.png"), full_page=True)
