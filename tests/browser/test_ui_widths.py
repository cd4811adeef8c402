"""Phone-first and accessible: every page at 360 × 740 and 1440 × 900 is no wider than the screen, every tap
target on it is at least 44 px high, and axe-core (bundled by axe-playwright-python, nothing downloaded)
finds no serious or critical violation. Screenshots of each page at both sizes go to
test-artifacts/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from tests.browser.alert_seeds import HIGH_8, seed_news2, store
from tests.browser.test_ui_browser import SHOTS, server, sign_in
from vward.config import Settings

__all__ = ["server"]

AXE = Axe()
VIEWPORTS = ((360, 740), (1440, 900))
CLINICAL = ("/", "/capacity", "/admissions/new", "/patients/{a}", "/patients/{a}/escalation-plan", "/reports")
ADMIN = (
    "/admin/users",
    "/admin/devices",
    "/admin/audit",
    "/admin/dead-letters",
    "/admin/security",
    "/admin/api-clients",
)

# Interactive elements too small to tap; a radio button or checkbox is tapped through its label.
_SMALL_TARGETS = """() => Array.from(
    document.querySelectorAll('button, select, input:not([type=hidden]), summary, nav a'))
  .map(el => ['radio', 'checkbox'].includes(el.type) ? (el.closest('label') || el) : el)
  .filter(el => el.offsetParent !== null && el.getBoundingClientRect().height < 43.5)
  .map(el => el.outerHTML.slice(0, 80))"""


def measure(page: Page, base: str, path: str, size: tuple[int, int], problems: list[str]) -> None:
    page.goto(base + path)
    page.wait_for_load_state()
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > size[0]:
        problems.append(f"{path} is {width} px wide at {size[0]} px")
    small = page.evaluate(_SMALL_TARGETS)
    if small:
        problems.append(f"{path} at {size[0]} px has tap targets under 44 px: {small}")
    for v in AXE.run(page).response["violations"]:
        if v["impact"] in ("serious", "critical"):
            where = ", ".join(n["html"][:80] for n in v["nodes"][:3])
            problems.append(f"{path} at {size[0]} px: axe {v['id']} ({v['impact']}): {where}")
    name = path.strip("/").replace("/", "-") or "queue"
    page.screenshot(path=str(SHOTS / f"page-{name}-{size[0]}x{size[1]}.png"), full_page=True)


def test_no_page_is_wider_than_the_screen(
    browser: Browser, server: str, clean_db: psycopg.Connection, settings: Settings
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    a = seed_news2(clean_db, settings, now)
    for minutes in (60, 40, 20):
        store(clean_db, settings, a, now - timedelta(minutes=minutes), **HIGH_8)
    problems: list[str] = []
    for size in VIEWPORTS:
        viewport = {"width": size[0], "height": size[1]}
        anon = browser.new_context(viewport=viewport).new_page()  # type: ignore[arg-type]
        measure(anon, server, "/signin", size, problems)
        coord = browser.new_context(viewport=viewport).new_page()  # type: ignore[arg-type]
        sign_in(coord, server, "coordinator")
        for path in CLINICAL:
            measure(coord, server, path.format(a=a), size, problems)
        admin = browser.new_context(viewport=viewport).new_page()  # type: ignore[arg-type]
        sign_in(admin, server, "admin")
        for path in ADMIN:
            measure(admin, server, path, size, problems)
    assert not problems, "\n".join(problems)
