"""The alerting package's errors: one small tree, so the web UI can map each to a 4xx with its message."""

from __future__ import annotations


class AlertingError(Exception):
    """Base of every error the alerting package raises on purpose."""


class AlertNotFound(AlertingError):
    """No alert has that id."""


class InvalidTransition(AlertingError):
    """The action is not allowed from the alert's current state."""


class InvalidAction(AlertingError):
    """The action is unknown or its arguments are missing or malformed (reason, expiry, response kind)."""


class VapidKeyMissing(AlertingError):
    """No VAPID private key exists yet: run ``vward vapid-keys``."""
