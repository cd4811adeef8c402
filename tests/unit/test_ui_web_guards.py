"""The pure rules behind the web app's security: throttle delays, input checks and password rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import Depends
from fastapi.routing import APIRoute

from clinician_ui import throttle
from clinician_ui.deps import public, require, route_access
from clinician_ui.input_guard import find_control, form_to_data, json_too_deep
from clinician_ui.middleware import security_headers, session_cookie
from clinician_ui.password_policy import password_problem
from clinician_ui.routing import make_router

POLICY = throttle.Policy(free_failures=5, base_delay=timedelta(seconds=2), max_delay=timedelta(minutes=15))
T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_the_delay_is_free_then_doubles_up_to_the_maximum() -> None:
    delays = [throttle.delay_after(n, POLICY) for n in range(1, 40)]
    assert delays[:4] == [timedelta(0)] * 4
    assert delays[4:8] == [timedelta(seconds=s) for s in (2, 4, 8, 16)]
    assert max(delays) == POLICY.max_delay and delays[-1] == POLICY.max_delay


def test_a_key_waits_after_failures_and_starts_again_long_after() -> None:
    counter = None
    for _ in range(6):
        counter = throttle.after_failure(counter, T0, POLICY)
    assert counter is not None and counter.failures == 6
    assert throttle.wait_left(counter, T0) == timedelta(seconds=4)
    assert throttle.wait_left(counter, T0 + timedelta(seconds=4)) == timedelta(0)
    fresh = throttle.after_failure(counter, T0 + timedelta(hours=1), POLICY)
    assert fresh.failures == 1 and fresh.locked_until is None


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"note": "a\x00b"}, ("body", "note")),
        ({"keys": {"auth": "x\x1by"}}, ("body", "keys", "auth")),
        ({"ids": ["ok", "b\x7f"]}, ("body", "ids", 1)),
        ({"k\x00": 1}, ("body", "k\x00")),
    ],
)
def test_control_characters_are_found_with_their_field(value: object, where: tuple[object, ...]) -> None:
    assert find_control(value, ("body",)) == where


def test_tabs_and_line_breaks_are_text_not_control() -> None:
    assert find_control({"note": "line one\r\nline two\tend", "n": 5}, ("body",)) is None


def test_json_depth_counts_brackets_outside_strings() -> None:
    assert json_too_deep(b"[" * 50_000, 32)
    assert not json_too_deep(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 32)
    assert not json_too_deep(b'{"a": [[1], {"b": [2]}]}', 4)
    assert json_too_deep(b'{"a": [[1], {"b": [[2]]}]}', 4)


def test_forms_become_bodies_with_lists_for_repeated_fields() -> None:
    items = [("username", "ann"), ("ward_ids", "1"), ("ward_ids", "2"), ("blank", ""), ("one", "x")]
    assert form_to_data(items, frozenset({"ward_ids", "one"})) == {
        "username": "ann",
        "ward_ids": ["1", "2"],
        "one": ["x"],
    }


@pytest.mark.parametrize(
    "password", ["short", "password1234", "Password123!", "qwertyuiop12", "aaaaaaaaaaaaaa", "12345678901234"]
)
def test_common_or_short_passwords_are_refused(password: str) -> None:
    assert password_problem(password, username="ann") is not None


def test_a_long_uncommon_password_is_accepted_unless_it_holds_the_username() -> None:
    assert password_problem("heron kettle autumn lamp", username="ann.smith") is None
    assert password_problem("ann.smith-kettle-lamp", username="ann.smith") is not None


def test_a_route_without_exactly_one_declaration_has_no_access() -> None:
    router = make_router("probe")

    @router.get("/undeclared")
    def undeclared() -> dict[str, str]:
        return {}

    @router.get("/open", dependencies=[Depends(public)])
    def open_route() -> dict[str, str]:
        return {}

    @router.get("/admins", dependencies=[Depends(require("admin"))])
    def admins() -> dict[str, str]:
        return {}

    @router.get("/twice", dependencies=[Depends(require("admin")), Depends(public)])
    def twice() -> dict[str, str]:
        return {}

    access = {r.path: route_access(r) for r in router.routes if isinstance(r, APIRoute)}
    assert access == {
        "/undeclared": None,
        "/open": frozenset({"anonymous", "nurse", "coordinator", "admin"}),
        "/admins": frozenset({"admin"}),
        "/twice": None,
    }


def test_patient_data_is_never_cached_and_hsts_follows_secure_cookies() -> None:
    page = security_headers("/patients/1", secure=False)
    assert page["Cache-Control"] == "no-store" and "Strict-Transport-Security" not in page
    assert "unsafe-inline" not in page["Content-Security-Policy"]
    assert "Cache-Control" not in security_headers("/static/app.css", secure=True)
    assert "Strict-Transport-Security" in security_headers("/", secure=True)
    assert session_cookie("abc", secure=True).endswith("; Secure")
