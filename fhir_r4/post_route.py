"""FHIR in: ``POST /fhir/R4`` with a Bundle of vital-sign Observations (scope ``system/Observation.write``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from fhir_r4 import client_devices, clients, intake, reading_path
from fhir_r4 import queries as q
from fhir_r4.web import BASE_PATH, FhirResponse, FhirRoute, Writer, app_settings, fhir_json, posted_json

router = APIRouter(tags=["fhir"], route_class=FhirRoute)


@router.post(BASE_PATH, response_class=FhirResponse)
async def post_bundle(request: Request, client: Writer) -> Response:
    """FHIR in: a batch/transaction Bundle of vital-sign Observations takes the MQTT readings' path.

    Both Bundle types are processed entry by entry (a bad entry is refused alone, with its OperationOutcome,
    and quarantined), because that is what a device's buffered batch gets over MQTT. Needs the
    ``system/Observation.write`` scope; an entry naming a device the client is not bound to is refused with
    a ``forbidden`` OperationOutcome and audited, not stored and not quarantined.
    """
    body = await posted_json(request)
    bundle_type, entries = intake.bundle_entries(body)
    return await run_in_threadpool(_store_bundle, request, client, bundle_type, entries)


def _store_bundle(request: Request, client: clients.Client, bundle_type: str, entries: list[Any]) -> Response:
    now = datetime.now(UTC)
    settings = app_settings(request)
    results: list[intake.EntryResult] = []
    pool: ConnectionPool = request.app.state.pool
    all_decoded = [intake.decode_entry(i, e) for i, e in enumerate(entries)]
    with pool.connection() as conn, conn.transaction():
        decoded, forbidden = intake.split_by_device(all_decoded, client_devices.bound(conn, client.id))
        if forbidden:
            client_devices.audit_forbidden(
                conn,
                client_id=client.id,
                entries=[{"index": f.index, "device": f.device_id, "identifier": f.identifier} for f in forbidden],
            )
        results += [
            intake.EntryResult(f.index, "forbidden", "forbidden_device", f"this client is not bound to {f.device_id}")
            for f in forbidden
        ]
        accepted = [d for d in decoded if isinstance(d, intake.Accepted)]
        refused = [d for d in decoded if isinstance(d, intake.Refused)]
        claims = [(*a.identifier, a.device_id, a.measured_at) for a in accepted]
        new = q.claim_identifiers(conn, client_id=client.id, entries=claims, now=now)
        fresh = [a for a in accepted if a.identifier in new]
        results += [intake.EntryResult(a.index, "duplicate") for a in accepted if a.identifier not in new]
        groups, clashes = intake.merge(fresh)
        refused += clashes
        verdicts = reading_path.store_readings(conn, groups, settings=settings, now=now)
        released = []
        for group, verdict in zip(groups, verdicts, strict=True):
            for entry in group.entries:
                if verdict is None:
                    results.append(intake.EntryResult(entry.index, "stored"))
                else:
                    refused.append(
                        intake.Refused(entry.index, verdict[0], verdict[1], entry.identifier, entry.device_id)
                    )
                    released.append(entry.identifier)
        released += [r.identifier for r in clashes if r.identifier is not None]
        q.release_identifiers(conn, released)
        raw = {i: json.dumps(e, separators=(",", ":"), default=str).encode() for i, e in enumerate(entries)}
        q.quarantine(
            conn,
            [(r.device_id, r.reason, r.detail, r.raw or raw[r.index]) for r in refused],
            topic=f"fhir/R4/{client.id}",
            now=now,
        )
        results += [intake.EntryResult(r.index, "refused", r.reason, r.detail) for r in refused]
    return fhir_json(intake.response_bundle(bundle_type, results))
