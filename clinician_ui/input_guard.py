"""Pure checks on untrusted input, applied to every request in one place (``routing.TypedRoute``).

PostgreSQL refuses NUL in text and nothing downstream wants other control characters; deeply nested JSON
exhausts Python's recursion before any model sees it. Both are refused here with the field's name.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab, line feed and carriage return (a note may have lines); DEL and the C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_MESSAGE = "control characters (such as NUL) are not allowed"


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def find_control(value: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The location of the first string (or object key) under ``value`` holding a control character."""
    if isinstance(value, str):
        return path if has_control(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and has_control(key):
                return (*path, key)
            found = find_control(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = find_control(item, (*path, i))
            if found is not None:
                return found
    return None


def json_too_deep(raw: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than ``limit`` (strings are skipped, not parsed)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def form_to_data(items: list[tuple[str, str]], list_fields: frozenset[str]) -> dict[str, Any]:
    """HTML form fields as a body: repeated or list-typed fields become lists; empty fields count as absent."""
    data: dict[str, Any] = {}
    for key, value in items:
        if value == "":
            continue
        if key in list_fields or key in data:
            prior = data.get(key, [])
            data[key] = [*prior, value] if isinstance(prior, list) else [prior, value]
        else:
            data[key] = value
    return data
