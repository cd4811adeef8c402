"""Password rules after NCSC guidance, checked whenever a password is set: length over complexity rules,
and a deny-list of the commonest choices (no forced composition, no expiry)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 128
_DENY_FILE = Path(__file__).parent / "common_passwords.txt"


@cache
def _deny_list() -> frozenset[str]:
    lines = _DENY_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def _core(password: str) -> str:
    """The password lower-cased without digits, punctuation and spaces: 'Password123!' -> 'password'."""
    return re.sub(r"[\W\d_]+", "", password.lower())


def password_problem(password: str, *, username: str) -> str | None:
    """Why this password may not be used, or None if it may."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters (a few words together are easy to remember)"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    lowered = password.lower()
    core = _core(password)
    deny = _deny_list()
    if lowered in deny or core in deny or not core or len(set(lowered)) < 4:
        return "this password is too common or too easy to guess"
    if username and username.lower() in lowered:
        return "a password may not contain the username"
    return None
