"""Everything by keyboard (Tab, Shift+Tab, Enter, Space, Escape; no pointer): a nurse signs in and works an
alert from acknowledgement to resolution, opens a patient record, its device readings and its chart ranges; a
coordinator admits a patient and answers the discharge confirmation. On every stop the focus ring is drawn
and stands out; a skip link leads to the content; a whole page is walked by Tab with no trap; the dialog keeps
the focus while open and gives it back on Escape."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import redis
from playwright.sync_api import Browser, Page, expect

from alerting.outbox import publish_pending
from tests.browser.alert_seeds import HIGH_8, seed_news2, seed_single_parameter, store
from tests.browser.keyboard import is_focused, sign_in_by_keyboard, tab_to, walk_the_page
from tests.browser.test_ui_browser import SHOTS, server
from tests.browser.test_ui_queue_cards import alert_of
from tests.browser.test_ui_widths import AXE
from tests.integration.ui_helpers import nhs
from vward.config import Settings

__all__ = ["server"]


def open_actions(page: Page) -> None:
    """From the top of the (re)loaded queue, Tab to the first card's actions and open them with Enter."""
    summary = page.locator("li.alert summary").first
    tab_to(page, summary)
    page.keyboard.press("Enter")
    expect(page.locator("li.alert details").first).to_have_attribute("open", "")


def test_a_nurse_works_an_alert_from_sign_in_to_resolution_by_keyboard(
    server: str, clean_db: psycopg.Connection, settings: Settings, browser: Browser
) -> None:
    admission_id = seed_news2(clean_db, settings, datetime.now(UTC))
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in_by_keyboard(page, server, "nurse.community")

    page.keyboard.press("Tab")  # the first stop on every page: the skip link, shown when focused
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null"), "the skip link skipped nothing"

    page.goto(f"{server}/")
    open_actions(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Acknowledge")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("li.alert .status").first).to_contain_text("acknowledged by Sam Okafor")
    expect(page.locator("li.alert summary").first).to_be_focused()  # back on the card, not at the top

    open_actions(page)
    tab_to(page, page.get_by_label("Note"))
    page.keyboard.type("Phoned: breathless, GP informed")
    page.keyboard.press("Tab")
    add_note = page.get_by_role("button", name="Add note")
    expect(add_note).to_be_focused()
    page.keyboard.press("Shift+Tab")  # back again: the focus is not held anywhere
    expect(page.get_by_label("Note")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/")
    expect(page.locator("li.alert").first).to_be_visible()

    open_actions(page)
    tab_to(page, page.get_by_label("Snooze for (minutes)"))
    page.keyboard.press("Control+A")
    page.keyboard.type("45")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Reason")).to_be_focused()
    page.keyboard.type("Visiting at three")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Snooze")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("li.alert .snooze").first).to_contain_text(re.compile(r"by Sam Okafor .*: Visiting at three"))

    open_actions(page)
    tab_to(page, page.get_by_role("button", name="Record response"))
    page.keyboard.press("Enter")
    expect(page.locator("li.alert .status").first).to_contain_text("responded")

    open_actions(page)
    tab_to(page, page.get_by_role("button", name="Resolve"))
    page.keyboard.press("Enter")
    expect(page.locator("#queue-empty")).to_be_visible()
    events = clean_db.execute(
        "SELECT e.event FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.admission_id = %s ORDER BY e.id",
        (admission_id,),
    ).fetchall()
    assert [e for (e,) in events] == ["raised", "acknowledged", "note_added", "snoozed", "responded", "resolved"]


def test_a_patient_record_by_keyboard_with_no_trap(
    server: str, clean_db: psycopg.Connection, settings: Settings, browser: Browser
) -> None:
    now = datetime.now(UTC)
    admission_id = seed_news2(clean_db, settings, now)
    store(clean_db, settings, admission_id, now - timedelta(minutes=2), **{**HIGH_8, "hr": 116})
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in_by_keyboard(page, server, "nurse.community")
    problems = walk_the_page(page)  # the queue
    tab_to(page, page.get_by_role("link", name="Vik News"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/patients/{admission_id}")

    readings = page.locator("#sets-table details").first
    tab_to(page, readings.locator("summary"))
    page.keyboard.press("Enter")
    expect(readings.locator("ul.readings li")).to_have_count(2)

    week = page.locator("details", has=page.locator("summary", has_text="Last 7 days"))
    tab_to(page, week.locator("summary"), back=True)  # it is above the table
    page.keyboard.press("Enter")
    expect(week.locator("svg").first).to_be_visible()
    month = page.locator("details", has=page.locator("summary", has_text="Last 30 days"))
    tab_to(page, month.locator("summary"))
    page.keyboard.press("Space")
    expect(month.locator("svg").first).to_be_visible()
    page.keyboard.press("Space")  # and closed again
    expect(month.locator("svg").first).not_to_be_visible()

    page.goto(f"{server}/patients/{admission_id}")
    problems += walk_the_page(page)
    page.screenshot(path=str(SHOTS / "keyboard-patient-360.png"))
    assert not problems, "\n".join(problems)


def test_a_coordinator_admits_and_answers_the_discharge_dialog_by_keyboard(
    server: str, clean_db: psycopg.Connection, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US")
    page = context.new_page()
    sign_in_by_keyboard(page, server, "coordinator")
    tab_to(page, page.get_by_role("link", name="Admit", exact=True))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/admissions/new")
    problems = walk_the_page(page)
    tab_to(page, page.get_by_label("NHS number"))
    page.keyboard.type(nhs(7))
    page.keyboard.press("Tab")
    page.keyboard.type("Iris")
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboard")
    page.keyboard.press("Tab")
    page.keyboard.type("05061941")  # the date field's month, day and year (en-US)
    expect(page.get_by_label("Date of birth")).to_have_value("1941-05-06")
    tab_to(page, page.get_by_label("Sex"))  # past the date field's parts
    page.keyboard.press("ArrowDown")  # the next choice in the closed select: Female
    expect(page.get_by_label("Sex")).to_have_value("female")
    tab_to(page, page.get_by_role("button", name="Admit"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Iris Keyboard")).to_be_visible()

    discharge = page.get_by_role("button", name="Discharge")
    tab_to(page, page.get_by_label("Outcome"))
    page.keyboard.press("Tab")
    expect(discharge).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Discharge Iris Keyboard, outcome: Recovered at home?")
    cancel, confirm = (
        dialog.get_by_role("button", name="Cancel"),
        dialog.get_by_role("button", name="Discharge"),
    )
    expect(cancel).to_be_focused()  # the safe answer first
    page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Tab")
    expect(cancel).to_be_focused()  # the focus stays in the dialog while it is open
    page.keyboard.press("Shift+Tab")
    expect(confirm).to_be_focused()
    page.screenshot(path=str(SHOTS / "keyboard-discharge-dialog-360.png"))
    for v in AXE.run(page).response["violations"]:  # the open dialog, too
        if v["impact"] in ("serious", "critical"):
            problems.append(f"dialog: axe {v['id']} ({v['impact']})")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(discharge).to_be_focused()  # back where it was opened
    assert is_focused(discharge)

    page.keyboard.press("Enter")
    expect(cancel).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_text("discharged", exact=False).first).to_be_visible()
    assert not problems, "\n".join(problems)
    outcome = clean_db.execute(
        "SELECT a.discharge_outcome FROM admissions a JOIN patients p ON p.id = a.patient_id"
        " WHERE p.family_name = 'Keyboard'"
    ).fetchone()
    assert outcome == ("recovered_at_home",)


def test_a_live_refresh_keeps_what_the_nurse_is_typing_and_her_place(
    server: str, clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, browser: Browser
) -> None:
    """A new alert arrives while she types a note on another card: the queue waits until she leaves the field,
    then shows the new card with her words and her focus where they were."""
    now = datetime.now(UTC)
    first = seed_news2(clean_db, settings, now)
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in_by_keyboard(page, server, "nurse.community")
    expect(page.locator("#live-status")).to_have_text("Live")
    open_actions(page)
    note = page.get_by_label("Note")
    tab_to(page, note)
    page.keyboard.type("Phoned: breathless")

    seed_single_parameter(clean_db, settings, now)  # another patient's alert, on the live stream
    publish_pending(clean_db, redis_client, settings=settings)
    expect(page.locator("#queue")).to_have_attribute("data-pending", "yes")
    expect(note).to_be_focused()
    page.keyboard.type(", GP informed")

    page.keyboard.press("Tab")  # leaving the field lets the waiting refresh run
    expect(page.locator("li.alert")).to_have_count(2)
    card = page.locator(f"#alert-{alert_of(clean_db, first)}")
    expect(card.get_by_role("button", name="Add note")).to_be_focused()
    expect(card.get_by_label("Note")).to_have_value("Phoned: breathless, GP informed")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("li.alert")).to_have_count(2)
    notes = clean_db.execute("SELECT body FROM alert_notes").fetchall()
    assert notes == [("Phoned: breathless, GP informed",)]
