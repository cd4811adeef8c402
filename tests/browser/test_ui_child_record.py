"""A child's record in headless Chromium: the NPEWS table has one row per observation set (the values the
NPEWS score was computed on, with its sub-scores, total and escalation level), the device readings behind a
disclosure, exactly as an adult's NEWS2 table does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
from playwright.sync_api import Browser, expect

from tests.browser.alert_seeds import admit, store
from tests.browser.test_ui_browser import SHOTS, server, sign_in
from tests.browser.test_ui_widths import measure
from vward.config import Settings

__all__ = ["server"]


def test_a_childs_npews_table_has_one_row_per_observation_set(
    server: str, clean_db: psycopg.Connection, settings: Settings, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    born = date(now.year - 3, 1, 15)  # the 1-4 years chart
    child = admit(clean_db, 31, "Child", ward="paediatric", admitted_at=now - timedelta(hours=2), born=born)
    store(clean_db, settings, child, now - timedelta(minutes=30), device="ox-child", rr=30, spo2=97, hr=120)
    store(clean_db, settings, child, now - timedelta(minutes=29), hr=121)  # the same set's score: same row
    store(clean_db, settings, child, now - timedelta(minutes=10), device="manual-u1", resp_distress="mild", crt=2.0)
    sets = clean_db.execute(
        "SELECT npews_total, npews_resp_distress FROM readings WHERE admission_id = %s ORDER BY measured_at",
        (child,),
    ).fetchall()
    assert sets == [(0, None), (0, None), (1, 1)]  # scored as a child, by the real reading path
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in(page, server, "nurse.community")
    page.goto(f"{server}/patients/{child}")
    table = page.locator("#npews-table")
    expect(table.locator("thead")).to_contain_text("NPEWS")
    expect(table.locator("caption")).to_contain_text("One row per observation set")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)  # three device readings, two observation sets
    newest, older = rows.nth(0), rows.nth(1)
    distress = newest.locator("td").nth(3)
    expect(distress).to_have_text("mild")
    assert distress.get_attribute("class") == "s1"  # its sub-score colours it
    expect(newest.locator("td").nth(2)).to_have_text("30")  # the set still holds the oximeter's RR
    expect(newest.locator("td").nth(1)).to_contain_text("1*")  # total, incomplete (no BP yet)
    expect(newest.locator("td").nth(1)).to_contain_text("escalation level low")
    expect(older.locator("td").nth(6)).to_have_text("121")  # the set as of its newest reading
    readings = older.locator("details")
    expect(readings.locator("ul.readings li")).to_have_count(2)
    expect(readings.locator("ul.readings")).not_to_be_visible()  # behind the disclosure
    readings.locator("summary").click()
    expect(readings.locator("ul.readings li")).to_have_text(
        [
            f"{(now - timedelta(minutes=29)).strftime('%d %b %H:%M')} wr-{child:06d}: hr 121",
            f"{(now - timedelta(minutes=30)).strftime('%d %b %H:%M')} ox-child: rr 30, spo2 97, hr 120",
        ]
    )
    page.screenshot(path=str(SHOTS / "patient-record-child-360.png"), full_page=True)
    problems: list[str] = []
    measure(page, server, f"/patients/{child}", (360, 740), problems)  # width, tap targets, axe
    assert not problems, "\n".join(problems)
