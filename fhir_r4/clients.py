"""API clients: issued by an admin, exchanged for short-lived bearer tokens (OAuth2 client credentials),
checked on every FHIR request, revocable at once.

Secrets and tokens are 256-bit random strings stored only as SHA-256 digests: unguessable inputs need no
slow hash, and the lookup by digest makes every request's check one indexed read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fhir_r4.bundles import SCOPES
from fhir_r4.errors import BadRequest, InsufficientScope, InvalidClient, Unauthorised

TOKEN_TTL = timedelta(hours=1)
CLIENT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")


@dataclass(frozen=True)
class Client:
    id: str
    scopes: tuple[str, ...]

    def need(self, scope: str) -> None:
        if scope not in self.scopes:
            raise InsufficientScope(f"this needs the {scope} scope")


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _audit(conn: psycopg.Connection, actor_id: int, action: str, client_id: str, detail: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor_id, action, entity, entity_id, detail) VALUES (%s, %s, 'api_client', %s, %s)",
        (actor_id, action, client_id, Jsonb(detail)),
    )


def issue(conn: psycopg.Connection, *, client_id: str, name: str, scopes: list[str], actor_id: int) -> str:
    """Creates the client and returns its secret (shown once, never stored)."""
    if not CLIENT_ID_RE.match(client_id):
        raise BadRequest("a client id is 3-64 lower-case letters, digits and hyphens")
    if not scopes or any(s not in SCOPES for s in scopes):
        raise BadRequest(f"scopes are one or more of {', '.join(SCOPES)}")
    secret = secrets.token_urlsafe(32)
    with conn.transaction():
        created = conn.execute(
            "INSERT INTO api_clients (id, name, secret_hash, scopes, created_by) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO NOTHING RETURNING id",
            (client_id, name, _digest(secret), sorted(set(scopes)), actor_id),
        ).fetchone()
        if created is None:
            raise BadRequest(f"there is already an API client {client_id}")
        _audit(conn, actor_id, "api_client.issue", client_id, {"name": name, "scopes": sorted(set(scopes))})
    return secret


def revoke(conn: psycopg.Connection, *, client_id: str, actor_id: int) -> bool:
    """Revokes the client and drops its tokens; False if there is no such active client."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE api_clients SET revoked_at = now(), revoked_by = %s WHERE id = %s AND revoked_at IS NULL"
            " RETURNING id",
            (actor_id, client_id),
        ).fetchone()
        if row is None:
            return False
        conn.execute("DELETE FROM api_tokens WHERE client_id = %s", (client_id,))
        _audit(conn, actor_id, "api_client.revoke", client_id, {})
    return True


def listing(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT c.id, c.name, c.scopes, c.created_at, u.username AS created_by, c.revoked_at"
            " FROM api_clients c LEFT JOIN users u ON u.id = c.created_by ORDER BY c.revoked_at IS NOT NULL, c.id"
        ).fetchall()


def exchange(conn: psycopg.Connection, *, client_id: str, secret: str, scope: str | None, now: datetime) -> IssuedToken:
    """A bearer token for an active client with the right secret; ``scope`` may narrow the client's scopes."""
    row = conn.execute(
        "SELECT secret_hash, scopes FROM api_clients WHERE id = %s AND revoked_at IS NULL", (client_id,)
    ).fetchone()
    presented = _digest(secret)
    if row is None or not hmac.compare_digest(bytes(row[0]), presented):
        raise InvalidClient("unknown client, wrong secret or revoked client")
    granted: tuple[str, ...] = tuple(row[1])
    if scope:
        asked = tuple(scope.split())
        if any(s not in granted for s in asked):
            raise InsufficientScope(f"this client may ask only for {' '.join(granted)}")
        granted = asked
    token = secrets.token_urlsafe(32)
    with conn.transaction():
        conn.execute("DELETE FROM api_tokens WHERE expires_at <= %s", (now,))
        conn.execute(
            "INSERT INTO api_tokens (token_hash, client_id, scopes, issued_at, expires_at) VALUES (%s, %s, %s, %s, %s)",
            (_digest(token), client_id, list(granted), now, now + TOKEN_TTL),
        )
    return IssuedToken(token, int(TOKEN_TTL.total_seconds()), granted)


def authenticate(conn: psycopg.Connection, authorization: str | None, now: datetime) -> Client:
    """The client behind an ``Authorization: Bearer`` header; refused if unknown, expired or revoked."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorised("send an OAuth2 bearer token (Authorization: Bearer ...)")
    row = conn.execute(
        "SELECT t.client_id, t.scopes FROM api_tokens t JOIN api_clients c ON c.id = t.client_id"
        " WHERE t.token_hash = %s AND t.expires_at > %s AND c.revoked_at IS NULL",
        (_digest(authorization[7:].strip()), now),
    ).fetchone()
    if row is None:
        raise Unauthorised("the bearer token is unknown, expired or revoked")
    return Client(row[0], tuple(row[1]))
