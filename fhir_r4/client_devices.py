"""Which devices a write-scoped API client may submit observations for. An admin binds and unbinds them
(audited); the FHIR door refuses, entry by entry, an Observation naming any other device."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from fhir_r4.bundles import SCOPE_WRITE_OBSERVATIONS
from fhir_r4.errors import BadRequest, ResourceNotFound


def _audit(conn: psycopg.Connection, actor_id: int, action: str, client_id: str, device_id: str) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor_id, action, entity, entity_id, detail) VALUES (%s, %s, 'api_client', %s, %s)",
        (actor_id, action, client_id, Jsonb({"device": device_id})),
    )


def bind(conn: psycopg.Connection, *, client_id: str, device_id: str, actor_id: int) -> bool:
    """Lets an active write-scoped client submit for the device; False if it already could."""
    with conn.transaction():
        client = conn.execute(
            "SELECT scopes FROM api_clients WHERE id = %s AND revoked_at IS NULL", (client_id,)
        ).fetchone()
        if client is None:
            raise ResourceNotFound(f"no active API client {client_id}")
        if SCOPE_WRITE_OBSERVATIONS not in client[0]:
            raise BadRequest(f"{client_id} has no {SCOPE_WRITE_OBSERVATIONS} scope: it submits for no device")
        if conn.execute("SELECT 1 FROM devices WHERE id = %s", (device_id,)).fetchone() is None:
            raise ResourceNotFound(f"no device {device_id}")
        added = conn.execute(
            "INSERT INTO api_client_devices (client_id, device_id, bound_by) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING device_id",
            (client_id, device_id, actor_id),
        ).fetchone()
        if added is not None:
            _audit(conn, actor_id, "api_client.bind_device", client_id, device_id)
    return added is not None


def unbind(conn: psycopg.Connection, *, client_id: str, device_id: str, actor_id: int) -> bool:
    """Stops the client submitting for the device; False if it was not bound."""
    with conn.transaction():
        gone = conn.execute(
            "DELETE FROM api_client_devices WHERE client_id = %s AND device_id = %s RETURNING device_id",
            (client_id, device_id),
        ).fetchone()
        if gone is not None:
            _audit(conn, actor_id, "api_client.unbind_device", client_id, device_id)
    return gone is not None


def bound(conn: psycopg.Connection, client_id: str) -> set[str]:
    rows = conn.execute("SELECT device_id FROM api_client_devices WHERE client_id = %s", (client_id,)).fetchall()
    return {r[0] for r in rows}


def by_client(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Every client's bound devices, for the admin page and API."""
    out: dict[str, list[str]] = {}
    for client_id, device_id in conn.execute(
        "SELECT client_id, device_id FROM api_client_devices ORDER BY client_id, device_id"
    ).fetchall():
        out.setdefault(client_id, []).append(device_id)
    return out


def audit_forbidden(conn: psycopg.Connection, *, client_id: str, entries: list[dict[str, object]]) -> None:
    """The refused entries of one request, in the audit log with the client as the actor: a security event,
    not a bad reading, so it is not quarantined (README "FHIR clients")."""
    conn.execute(
        "INSERT INTO audit_log (api_client_id, action, entity, entity_id, detail)"
        " VALUES (%s, 'fhir.observation.forbidden_device', 'api_client', %s, %s)",
        (client_id, client_id, Jsonb({"entries": entries})),
    )
