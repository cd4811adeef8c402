"""Live updates: server-sent events from the Redis alert stream, and web push subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis.asyncio as aredis
from fastapi import Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from alerting.errors import AlertingError
from alerting.push import vapid_public_key
from clinician_ui.deps import AppSettings, Conn, require
from clinician_ui.errors import UIError
from clinician_ui.queries import audit
from clinician_ui.routing import make_router
from clinician_ui.schemas import StrictIn
from clinician_ui.security import User
from clinician_ui.sse import format_event, valid_stream_id, visible

router = make_router("live")
Clinician = Annotated[User, Depends(require("nurse", "coordinator"))]
BLOCK_MS = 5_000  # also bounds how long a closed tab holds a server task


class Unavailable(UIError):
    """A dependency of this feature is not set up (e.g. no VAPID key yet)."""

    status = 503


@router.get("/api/alerts/stream")
async def alert_stream(
    request: Request, user: Clinician, settings: AppSettings, since: str | None = None
) -> StreamingResponse:
    """SSE of alert events on the user's wards, from ``Last-Event-ID`` (reconnect) or ``since`` (page load)."""
    start = valid_stream_id(request.headers.get("last-event-id")) or valid_stream_id(since) or "$"
    client: aredis.Redis = request.app.state.aredis
    wards = list(user.ward_ids)

    async def events() -> AsyncIterator[str]:
        last = start
        yield "retry: 3000\n\n"
        while not await request.is_disconnected():
            batch: Any = await client.xread({settings.alert_stream: last}, count=100, block=BLOCK_MS)
            if not batch:
                yield ": keepalive\n\n"
                continue
            for entry_id, fields in batch[0][1]:
                last = entry_id
                if visible(fields, wards):
                    yield format_event(entry_id, fields)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/api/push/vapid-public-key")
def vapid_key(user: Clinician, settings: AppSettings) -> dict[str, str]:
    try:
        return {"key": vapid_public_key(settings)}
    except AlertingError as exc:
        raise Unavailable(str(exc)) from exc


class Keys(StrictIn):
    p256dh: Annotated[str, Field(min_length=10, max_length=200)]
    auth: Annotated[str, Field(min_length=8, max_length=100)]


class SubscriptionIn(StrictIn):
    endpoint: Annotated[str, Field(pattern=r"^https?://", max_length=2000)]
    keys: Keys


@router.post("/api/push/subscriptions", status_code=201)
def subscribe(sub: SubscriptionIn, conn: Conn, user: Clinician) -> dict[str, Any]:
    """Stores (or re-owns) the browser's push subscription for this user."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh,"
            " auth = EXCLUDED.auth",
            (user.id, sub.endpoint, sub.keys.p256dh, sub.keys.auth),
        )
        audit.record(conn, actor_id=user.id, action="push.subscribe", entity="user", entity_id=user.id)
    return {"subscribed": True}
