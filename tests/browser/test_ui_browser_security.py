"""In headless Chromium: the CSP blocks nothing the pages need (no violation on any page), and an admin
ending a nurse's session on the sessions page signs that nurse out at her next click."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.browser.test_ui_browser import sign_in
from tests.integration.ui_helpers import admit_body, seed_users, served
from vward.config import Settings


@pytest.fixture
def server(clean_db: psycopg.Connection, settings: Settings) -> Iterator[str]:
    seed_users(clean_db)
    with served(settings) as base:
        yield base


def _watch(page: Page, violations: list[str]) -> Page:
    def on_console(msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text or "Refused to" in msg.text:
            violations.append(f"{page.url}: {msg.text[:200]}")

    page.on("console", on_console)
    return page


def test_no_page_breaks_the_csp_and_a_revoked_session_signs_out(
    browser: Browser, server: str, clean_db: psycopg.Connection, settings: Settings
) -> None:
    violations: list[str] = []
    coord = _watch(browser.new_context().new_page(), violations)
    sign_in(coord, server, "coordinator")
    body = admit_body(clean_db, 41)
    coord.goto(f"{server}/admissions/new")
    coord.get_by_label("NHS number").fill(str(body["nhs_number"]))
    coord.get_by_label("Given name").fill("Csp")
    coord.get_by_label("Family name").fill("Check")
    coord.get_by_label("Date of birth").fill("1950-01-01")
    coord.get_by_label("Ward").select_option(label="Frailty virtual ward")
    coord.get_by_role("button", name="Admit").click()
    expect(coord.get_by_role("heading", name="Csp Check")).to_be_visible()
    for path in ("/", "/capacity"):
        coord.goto(f"{server}{path}")
        coord.wait_for_load_state("networkidle")

    nurse = _watch(browser.new_context().new_page(), violations)
    sign_in(nurse, server, "nurse.community")
    expect(nurse.locator("#live-status")).to_have_text("Live")

    admin = _watch(browser.new_context().new_page(), violations)
    sign_in(admin, server, "admin")
    for path in ("/admin/users", "/admin/devices", "/admin/audit", "/admin/security"):
        admin.goto(f"{server}{path}")
        admin.wait_for_load_state("networkidle")
    row = admin.locator("tr", has_text="nurse.community")
    row.get_by_role("button", name="End session").click()
    admin.wait_for_load_state()
    expect(admin.locator("tr", has_text="nurse.community")).to_have_count(0)

    nurse.goto(f"{server}/capacity")
    expect(nurse.get_by_role("heading", name="Sign in")).to_be_visible()
    assert violations == []
