"""The web app's errors; handlers in app.py turn each into a 4xx with its message (a 500 is a bug)."""

from __future__ import annotations


class UIError(Exception):
    """Base of the clinician UI's errors; ``status`` is the HTTP status it maps to."""

    status = 400


class BadInput(UIError):
    """The request's data is malformed or fails validation."""

    status = 422


class MalformedBody(UIError):
    """The body cannot be read at all: not JSON, or nested deeper than the bound."""

    status = 400


class NotSignedIn(UIError):
    """No valid session."""

    status = 401


class Forbidden(UIError):
    """Signed in, but this role or ward may not do this."""

    status = 403


class NotFound(UIError):
    """The record does not exist, or is outside the user's wards."""

    status = 404


class Conflict(UIError):
    """The action clashes with the current state (a full ward, a discharged admission)."""

    status = 409
