"""The children's ward in headless Chromium: what a nurse reads on the NPEWS pages.

A child's queue card gives the NPEWS level and the reason in words; the issue's infant (RR 72, SpO2 90,
HR 185: 12) sits at the high level, and severe respiratory distress entered by hand makes it an emergency
with the page telling the nurse to call 999; a carer's W waits for a clinician's grade, and grading works;
a palliative plan is shown first and takes hospital transfer off the responses. Readings go through the real
reading path (devices' via ``store``, the visit's through the hand-entry form). The patient page's NPEWS
table is being reshaped elsewhere, so these tests read levels, reasons and the plan, not its rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
from playwright.sync_api import Browser, Locator, Page, expect

from alerting.npews import CARER_QUESTION
from tests.browser.alert_seeds import admit, store
from tests.browser.test_ui_browser import SHOTS, server, sign_in
from vward.config import Settings

__all__ = ["server"]  # the fixture, shared with test_ui_browser

INFANT_12 = {"rr": 72, "spo2": 90, "hr": 185, "on_oxygen": False, "sbp": 80, "crt": 1.5, "resp_distress": "none"}
PLAN = "Symptom control at home, no transfer to hospital"


def admit_child(conn: psycopg.Connection, n: int, family: str, born: date) -> int:
    """Mia, a girl admitted to the children's virtual ward an hour ago; returns the admission id."""
    admitted_at = datetime.now(UTC) - timedelta(hours=1)
    return admit(conn, n, family, ward="paediatric", admitted_at=admitted_at, born=born, given="Mia", sex="female")


def open_alert(conn: psycopg.Connection, admission_id: int) -> int:
    row = conn.execute(
        "SELECT id FROM alerts WHERE admission_id = %s AND status <> 'resolved'", (admission_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def enter_by_hand(page: Page, base: str, admission_id: int, *, selects: dict[str, str]) -> None:
    """The visiting nurse's hand-entry form on the patient page, choices picked by their labels."""
    page.goto(f"{base}/patients/{admission_id}")
    form = page.locator("#obs-form")
    for label, value in selects.items():
        form.get_by_label(label).select_option(value)
    with page.expect_navigation(url=f"{base}/patients/{admission_id}"):  # stored: the server redirects
        form.get_by_role("button", name="Save observations").click()


def card(page: Page, base: str, alert_id: int) -> Locator:
    page.goto(base)
    return page.locator(f"#alert-{alert_id}")


def test_the_infant_is_high_and_severe_distress_by_hand_makes_it_an_emergency_calling_999(
    server: str, clean_db: psycopg.Connection, settings: Settings, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    infant = admit_child(clean_db, 31, "Infant", date.today() - timedelta(days=120))
    store(clean_db, settings, infant, datetime.now(UTC) - timedelta(minutes=5), **INFANT_12)
    alert_id = open_alert(clean_db, infant)
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in(page, server, "nurse.community")
    high = card(page, server, alert_id)
    expect(high.locator(".badge")).to_have_text("high")
    expect(high.locator(f"#why-{alert_id}")).to_contain_text("high: PEWS 12 (9-12)")
    expect(high).to_contain_text("NPEWS now")
    expect(page.locator(f"#now-{alert_id}")).to_have_text("12")  # a complete set: no "≥"
    expect(high).not_to_contain_text("call 999")
    page.screenshot(path=str(SHOTS / "npews-infant-high-360.png"), full_page=True)

    page.goto(f"{server}/patients/{infant}")
    expect(page.locator("#score-applies")).to_contain_text("NPEWS")
    expect(page.locator("#npews-now")).to_contain_text("12")
    expect(page.locator("#npews-now")).to_contain_text("high")

    enter_by_hand(page, server, infant, selects={"Respiratory distress": "severe"})
    expect(page.locator("#npews-now")).to_contain_text("16")
    expect(page.locator("#npews-now")).to_contain_text("emergency")
    expect(page.locator("#call-999")).to_contain_text("call 999 from the home")

    emergency = card(page, server, alert_id)
    expect(emergency.locator(".badge")).to_have_text("emergency")
    expect(emergency.locator(f"#why-{alert_id}")).to_contain_text("emergency: PEWS 16 (13 or more)")
    expect(emergency).to_contain_text("Emergency: call 999 from the home")
    page.screenshot(path=str(SHOTS / "npews-infant-emergency-360.png"), full_page=True)


def test_a_carers_w_awaits_a_clinicians_grade_and_grading_sets_the_level(
    server: str, clean_db: psycopg.Connection, settings: Settings, browser: Browser
) -> None:
    child = admit_child(clean_db, 32, "Carer", date.today() - timedelta(days=365 * 3))
    store(clean_db, settings, child, datetime.now(UTC) - timedelta(minutes=5), rr=28, hr=110, spo2=98)
    assert clean_db.execute("SELECT count(*) FROM alerts").fetchone() == (0,)  # normal for a 3-year-old
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(page, server, "nurse.community")
    enter_by_hand(page, server, child, selects={CARER_QUESTION: "W"})
    alert_id = open_alert(clean_db, child)

    waiting = card(page, server, alert_id)
    expect(waiting.locator(".awaiting-grade")).to_have_text("a clinician must grade this alert")
    expect(waiting.locator(f"#why-{alert_id}")).to_contain_text(
        "the carer says the child is worse (W): a clinician must choose the level"
    )
    page.screenshot(path=str(SHOTS / "npews-carer-w-390.png"), full_page=True)

    waiting.locator("summary").click()
    waiting.get_by_label("Grade").select_option("high")
    with page.expect_navigation(url=f"{server}/"):
        waiting.get_by_role("button", name="Set level").click()

    graded = page.locator(f"#alert-{alert_id}")
    expect(graded.locator(".badge")).to_have_text("high")
    expect(graded.locator(f"#why-{alert_id}")).to_contain_text("graded high by a clinician")
    expect(graded.locator(".awaiting-grade")).to_have_count(0)
    graded_by = clean_db.execute("SELECT graded_by IS NOT NULL, awaiting_grade, risk FROM alerts").fetchall()
    assert graded_by == [(True, False, "high")]


def test_a_palliative_childs_alert_shows_the_plan_first_and_offers_no_hospital_transfer(
    server: str, clean_db: psycopg.Connection, settings: Settings, browser: Browser
) -> None:
    child = admit_child(clean_db, 33, "Comfort", date.today() - timedelta(days=100))
    page = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    sign_in(page, server, "nurse.community")
    page.goto(f"{server}/patients/{child}/escalation-plan")
    form = page.locator("#plan-form")
    form.get_by_label("Plan").fill(PLAN)
    form.get_by_label("Reason").fill("Children's palliative care plan agreed with the family")
    form.get_by_label("Transfer to hospital").select_option("false")
    form.get_by_label("Review by").fill((date.today() + timedelta(days=14)).isoformat())
    with page.expect_navigation(url=f"{server}/patients/{child}"):
        form.get_by_role("button", name="Record plan").click()
    expect(page.locator("#escalation-plan")).to_contain_text(PLAN)

    at = datetime.now(UTC) - timedelta(minutes=5)
    store(clean_db, settings, child, at, **{**INFANT_12, "resp_distress": "severe"})  # 16: emergency
    alert_id = open_alert(clean_db, child)
    item = card(page, server, alert_id)
    plan = item.locator(f"#plan-{alert_id}")
    expect(plan).to_contain_text(PLAN)
    expect(plan).to_contain_text("no transfer to hospital")
    expect(item.locator(".badge")).to_have_text("emergency")  # still scored, nothing hidden
    expect(item.locator(f"#why-{alert_id}")).to_contain_text("PEWS 16")
    first = page.evaluate(
        "([a, b]) => Boolean(document.getElementById(a).compareDocumentPosition("
        "document.getElementById(b)) & Node.DOCUMENT_POSITION_FOLLOWING)",
        [f"plan-{alert_id}", f"why-{alert_id}"],
    )
    assert first, "the plan comes before the score and the reason on the card"
    expect(item).not_to_contain_text("call 999")

    item.locator("summary").click()
    with page.expect_navigation(url=f"{server}/"):
        item.get_by_role("button", name="Acknowledge").click()
    acknowledged = page.locator(f"#alert-{alert_id}")
    acknowledged.locator("summary").click()
    responses = acknowledged.get_by_label("Response").locator("option")
    expect(responses).to_have_text(["Phone", "Video", "Home visit"])
    page.screenshot(path=str(SHOTS / "npews-palliative-plan-1024.png"), full_page=True)

    page.goto(f"{server}/patients/{child}")
    expect(page.locator("#call-999")).to_contain_text("follow the escalation plan")
    expect(page.locator("#call-999")).not_to_contain_text("call 999 from the home")
