"""The FHIR door's errors; the router turns each into an OperationOutcome with its HTTP status."""

from __future__ import annotations


class FhirError(Exception):
    """Base of the FHIR door's errors; ``status`` is the HTTP status and ``code`` the issue type."""

    status = 400
    code = "invalid"


class BadRequest(FhirError):
    """A search parameter or body that cannot be understood."""


class Unauthorised(FhirError):
    """No bearer token, or one that is unknown, expired or revoked."""

    status = 401
    code = "login"


class InsufficientScope(FhirError):
    """The client's token lacks the scope this interaction needs."""

    status = 403
    code = "forbidden"


class Unprocessable(FhirError):
    """Well-formed input that breaks a business rule (an unknown patient, a date in the future)."""

    status = 422
    code = "business-rule"


class ResourceNotFound(FhirError):
    """No resource with this id."""

    status = 404
    code = "not-found"


class InvalidClient(FhirError):
    """The client id or secret is wrong, or the client is revoked (OAuth2 ``invalid_client``)."""

    status = 401
    code = "security"
