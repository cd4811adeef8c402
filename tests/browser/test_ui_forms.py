"""Forms in headless Chromium: a refusal stands beside the field in plain words and the input is kept."""

from __future__ import annotations

import psycopg
from playwright.sync_api import Browser, expect

from tests.browser.test_ui_browser import SHOTS, server, sign_in

__all__ = ["server"]


def test_a_bad_nhs_number_is_explained_beside_its_field_and_the_input_kept(
    browser: Browser, server: str, clean_db: psycopg.Connection
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    sign_in(page, server, "coordinator")
    page.goto(f"{server}/admissions/new")
    page.get_by_label("NHS number").fill("943 476 5910")  # check digit wrong (5919 is right)
    page.get_by_label("Given name").fill("Vik")
    page.get_by_label("Family name").fill("Ahmed")
    page.get_by_label("Date of birth").fill("1950-01-02")
    page.get_by_role("button", name="Admit").click()
    error = page.locator("#error-nhs_number")
    expect(error).to_have_text("The NHS number's check digit is wrong")
    expect(page.locator("input[name=nhs_number]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=nhs_number]")).to_have_attribute("aria-describedby", "error-nhs_number")
    expect(page.get_by_label("Family name")).to_have_value("Ahmed")  # nothing typed is lost
    assert page.url.endswith("/admissions/new")
    page.screenshot(path=str(SHOTS / "admit-inline-error-360.png"), full_page=True)

    page.get_by_label("NHS number").fill("943 476 5919")
    page.get_by_role("button", name="Admit").click()
    expect(page.get_by_role("heading", name="Vik Ahmed")).to_be_visible()
    assert clean_db.execute("SELECT count(*) FROM admissions").fetchone() == (1,)
