"""Domain errors of the records the web app manages (admissions, capacity, users, devices): what went wrong
in clinical or administrative terms, not which HTTP status it is.

The web layer (``clinician_ui.app``) maps them: a record that is not there (or not on the user's wards)
to 404, an unknown record named as input to 422, a clash with the current state to 409.
"""

from __future__ import annotations


class RecordsError(Exception):
    """Base of the records' errors."""


class NoSuchRecord(RecordsError):
    """The ward, admission, user or device does not exist, or is outside the user's wards (not told apart)."""


class UnknownReference(RecordsError):
    """The request names a record that does not exist where it is an input (e.g. a ward to give a user)."""


class Clash(RecordsError):
    """The change clashes with the current state of the records."""


class WardFull(Clash):
    """No free bed on the ward; the message names wards that have one."""


class AlreadyAdmitted(Clash):
    """The patient has an active admission already."""


class AlreadyOnWard(Clash):
    """A transfer to the ward the patient is on."""


class DevicesUnavailable(Clash):
    """Devices that are not registered or are assigned to another admission."""


class AlreadyExists(Clash):
    """A username or device id that is taken."""


class LastAdmin(Clash):
    """The change would leave no active admin: nobody could administer the system any more."""
