"""The OAuth2 token endpoint (client credentials, RFC 6749 section 4.4). Public: the client authenticates
with its id and secret; errors are OAuth2's JSON, not OperationOutcomes."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from fhir_r4 import clients
from fhir_r4.errors import InsufficientScope, InvalidClient
from fhir_r4.web import TOKEN_PATH, Conn, FhirRoute

router = APIRouter(tags=["fhir"], route_class=FhirRoute)


class TokenForm(BaseModel):
    grant_type: str = ""  # missing is answered as OAuth2's unsupported_grant_type, not a validation error
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    error: str
    error_description: str = Field(default="")


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


@router.post(TOKEN_PATH, response_model=TokenOut, responses={400: {"model": OAuthError}, 401: {"model": OAuthError}})
def token(request: Request, conn: Conn, form: Annotated[TokenForm, Form()]) -> Response:
    """OAuth2 client credentials (RFC 6749 4.4): the client's id and secret, in the form or HTTP Basic."""

    def oauth_error(status: int, error: str, description: str) -> Response:
        return JSONResponse(OAuthError(error=error, error_description=description).model_dump(), status_code=status)

    if form.grant_type != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    creds = _basic(request.headers.get("authorization")) or (form.client_id or "", form.client_secret or "")
    try:
        issued = clients.exchange(conn, client_id=creds[0], secret=creds[1], scope=form.scope, now=datetime.now(UTC))
    except InvalidClient as exc:
        return oauth_error(401, "invalid_client", str(exc))
    except InsufficientScope as exc:
        return oauth_error(400, "invalid_scope", str(exc))
    body = TokenOut(access_token=issued.access_token, expires_in=issued.expires_in, scope=" ".join(issued.scopes))
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
