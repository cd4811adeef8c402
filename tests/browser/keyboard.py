"""Keyboard-only helpers for the browser tests: move the focus with Tab / Shift+Tab as a person would, and
check on every stop that the focus ring is drawn and stands out from what is around it (3:1, WCAG 2.2)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

from vward.seed import DEMO_PASSWORD

# The focused element's ring: None when it is visible with at least 3:1 against the background behind it.
_RING_PROBLEM = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || !document.hasFocus()) return null;  // the focus is outside the page
  const name = el.outerHTML.slice(0, 70);
  // A date field's focus is on one of its parts (month, day, year, the calendar button), inside the field.
  if (!el.matches(el.type === "date" ? ":focus-within" : ":focus-visible")) return "no :focus-visible on " + name;
  const cs = getComputedStyle(el);
  if (cs.outlineStyle === "none" || parseFloat(cs.outlineWidth) < 2) return "no focus outline on " + name;
  const rgba = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  function lin(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
  let bg = [255, 255, 255];
  for (let p = el.parentElement; p; p = p.parentElement) {
    const c = rgba(getComputedStyle(p).backgroundColor);
    if (c.length === 3 || c[3] > 0) { bg = c; break; }
  }
  const a = lum(rgba(cs.outlineColor)), b = lum(bg);
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  return ratio >= 3 ? null : "focus outline contrast " + ratio.toFixed(2) + " on " + name;
}"""


def is_focused(target: Locator) -> bool:
    return bool(target.evaluate("el => el === document.activeElement"))


def ring_problem(page: Page) -> str | None:
    problem = page.evaluate(_RING_PROBLEM)
    return str(problem) if problem else None


def tab_to(page: Page, target: Locator, *, back: bool = False, limit: int = 150) -> None:
    """Tab (Shift+Tab when ``back``) until ``target`` has the focus, checking the focus ring at every stop."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(limit):
        if is_focused(target):
            return
        page.keyboard.press(key)
        problem = ring_problem(page)
        assert problem is None, problem
    assert is_focused(target), f"{target} is not reachable by {key}"


def sign_in_by_keyboard(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/signin")
    tab_to(page, page.get_by_label("Username"))
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


# Number every element a Tab should stop on (visible, enabled, one radio per group); returns how many.
_MARK_TAB_STOPS = """() => {
  const seen = new Set();
  const stops = Array.from(document.querySelectorAll(
      'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])'))
    .filter(el => !el.disabled && el.checkVisibility({ visibilityProperty: true }))
    .filter(el => {
      if (el.type !== "radio") return true;
      if (seen.has(el.name)) return false;
      seen.add(el.name);
      return true;
    });
  stops.forEach((el, i) => { el.dataset.kbStop = String(i); });
  return stops.length;
}"""
_RADIO_GROUP_STOP = """() => {
  const el = document.activeElement;
  if (el && el.type === "radio") {
    const first = document.querySelector('input[type=radio][name="' + el.name + '"][data-kb-stop]');
    return first ? first.dataset.kbStop : null;
  }
  return el && el.dataset ? el.dataset.kbStop || null : null;
}"""


def walk_the_page(page: Page) -> list[str]:
    """Tabs from the top of the page until the focus comes round again; returns what was never reached or
    where the focus ring failed. The page has no keyboard trap if every stop is reached in one round."""
    total = int(page.evaluate(_MARK_TAB_STOPS))
    page.evaluate("document.activeElement && document.activeElement.blur()")
    reached: set[str] = set()
    problems: list[str] = []
    previous = None
    for _ in range(total * 3 + 10):
        page.keyboard.press("Tab")
        stop = page.evaluate(_RADIO_GROUP_STOP)
        if stop is not None and stop != previous and stop in reached:
            break  # round again: the focus left the last stop and came back to the first
        previous = stop  # a date field takes a Tab for each of its parts
        if stop is not None:
            reached.add(stop)
            problem = ring_problem(page)
            if problem:
                problems.append(problem)
    missing = page.evaluate(
        "reached => Array.from(document.querySelectorAll('[data-kb-stop]'))"
        ".filter(el => !reached.includes(el.dataset.kbStop)).map(el => el.outerHTML.slice(0, 80))",
        sorted(reached),
    )
    return problems + [f"never reached by Tab: {m}" for m in missing]
