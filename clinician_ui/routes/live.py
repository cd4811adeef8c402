"""Live updates: server-sent events from the Redis alert stream, and web push subscriptions.

The stream's blocking read (``BLOCK_MS``) stays well under the Redis client's socket timeout (redis-py's
asyncio client defaults it to 5 s; a 5 s block timed out at the socket every cycle and dropped the
stream), and a Redis outage is waited out inside the stream, resuming from the last id it sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis
import redis.asyncio as aredis
from fastapi import Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from alerting.endpoints import InvalidPushEndpoint, check_endpoint
from alerting.errors import AlertingError
from alerting.push import vapid_public_key
from alerting.throttle import WarningThrottle
from clinician_ui.deps import AppSettings, Conn, require, session_id
from clinician_ui.errors import BadInput, UIError
from clinician_ui.queries import audit
from clinician_ui.routing import make_router
from clinician_ui.schemas import StrictIn
from clinician_ui.security import User, session_is_live
from clinician_ui.sse import format_event, valid_stream_id, visible
from vward.config import Settings

router = make_router("live")
Clinician = Annotated[User, Depends(require("nurse", "coordinator"))]
BLOCK_MS = 1_000  # well under the client's socket timeout; also bounds how long a closed tab holds a task
OUTAGE_PAUSE_S = 1.0
log = logging.getLogger(__name__)
warnings = WarningThrottle(log)


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
    sid = session_id(request)

    def still_signed_in() -> bool:
        with request.app.state.pool.connection() as conn:
            return session_is_live(conn, sid, now=request.app.state.clock(), idle=settings.session_idle_timeout)

    async def events() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        last = start
        recheck_at = time.monotonic() + settings.stream_session_recheck_s
        while not await request.is_disconnected():
            if time.monotonic() >= recheck_at:  # a signed-out or revoked session's stream ends with it
                if not await run_in_threadpool(still_signed_in):
                    yield "event: signed-out\ndata: {}\n\n"
                    return
                recheck_at = time.monotonic() + settings.stream_session_recheck_s
            try:
                if last == "$":  # pin "now" to an id, so nothing added between two reads is skipped
                    newest: Any = await client.xrevrange(settings.alert_stream, count=1)
                    last = newest[0][0] if newest else "0-0"
                batch: Any = await client.xread({settings.alert_stream: last}, count=100, block=BLOCK_MS)
            except redis.RedisError as exc:
                warnings.warning("redis", "alert stream: Redis unavailable (%s); waiting", type(exc).__name__)
                yield ": redis unavailable\n\n"
                await asyncio.sleep(OUTAGE_PAUSE_S)
                continue
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
def subscribe(sub: SubscriptionIn, conn: Conn, user: Clinician, settings: AppSettings) -> dict[str, Any]:
    """Stores (or re-owns) the browser's push subscription for this user, if the hub may push to it."""
    checked_endpoint(sub.endpoint, settings)
    with conn.transaction():
        conn.execute(
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh,"
            " auth = EXCLUDED.auth",
            (user.id, sub.endpoint, sub.keys.p256dh, sub.keys.auth),
        )
        audit.record(conn, actor_id=user.id, action="push.subscribe", entity="user", entity_id=user.id)
    return {"subscribed": True}


def checked_endpoint(endpoint: str, settings: Settings) -> str:
    """``endpoint`` if the hub may push to it, else BadInput (422) naming the problem."""
    try:
        check_endpoint(
            endpoint,
            allowed_hosts=settings.push_allowed_hosts,
            allow_test_endpoints=settings.push_allow_test_endpoints,
        )
    except InvalidPushEndpoint as exc:
        raise BadInput(f"endpoint: {exc}") from exc
    return endpoint
