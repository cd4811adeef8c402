"""The hub: the live alert queue (page, fragment, JSON) and the actions on an alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import Field, Strict

from alerting.actions import apply_action
from alerting.outbox import publish_pending
from clinician_ui.deps import AppSettings, Clinician, Conn, get_redis, safe_next, wants_html
from clinician_ui.errors import NotFound
from clinician_ui.queries import alerts as q
from clinician_ui.queue import LIVE_POLL_S, HeaderCounts, annotate, band_counts, header_counts
from clinician_ui.routing import make_router
from clinician_ui.schemas import AwareMoment, StrictIn
from clinician_ui.security import User
from clinician_ui.templating import render
from vward.config import Settings
from vward.vocabulary import MAX_NOTE_CHARS, MAX_SNOOZE_REASON_CHARS, ResponseKind

router = make_router("alerts")
# An alert as the queue shows it: the alert's columns plus its wait and due times (see queue.annotate).
AlertOut = dict[str, Any]


def _queue(conn: Any, user: User, settings: Settings) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    windows = q.TrendWindows.from_settings(settings)
    return [annotate(r, now) for r in q.open_queue(conn, ward_ids=user.ward_ids, windows=windows)]


def stream_position(request: Request, stream: str) -> str:
    """The id of the newest stream entry (or 0-0): the page shows everything before it, SSE the rest."""
    last = get_redis(request).xrevrange(stream, count=1)
    return str(last[0][0]) if last else "0-0"


def alert_counts(conn: Any, user: User) -> HeaderCounts | None:
    """The site header's open alerts by band, for a clinician; None for anyone who works no alert queue."""
    if user.role not in ("nurse", "coordinator"):
        return None
    return header_counts(q.open_counts(conn, ward_ids=user.ward_ids))


@router.get("/", include_in_schema=False)
def hub(request: Request, conn: Conn, user: Clinician, settings: AppSettings) -> Response:
    since = stream_position(request, settings.alert_stream)  # read before the queue: nothing falls between
    alerts = _queue(conn, user, settings)
    context = {
        "alerts": alerts,
        "counts": band_counts(alerts),
        "since": since,
        "poll_s": LIVE_POLL_S,
        "alert_counts": alert_counts(conn, user),
    }
    return render(request, "hub.html", context)


@router.get("/fragments/queue", include_in_schema=False)
def queue_fragment(request: Request, conn: Conn, user: Clinician, settings: AppSettings) -> Response:
    alerts = _queue(conn, user, settings)
    return render(request, "_queue.html", {"alerts": alerts, "counts": band_counts(alerts)})


@router.get("/fragments/alert-counts", include_in_schema=False)
def alert_counts_fragment(request: Request, conn: Conn, user: Clinician) -> Response:
    """The header's counts, re-read by every clinician page: on an alert event where the page has the live
    stream, on a light poll elsewhere (static/app.js says why)."""
    return render(request, "_alert_counts.html", {"alert_counts": alert_counts(conn, user)})


@router.get("/api/alerts", response_model=list[AlertOut])
def list_alerts(conn: Conn, user: Clinician, settings: AppSettings) -> Any:
    """Open alerts on the user's wards: highest risk first, then nearest breach, then longest waiting."""
    return _queue(conn, user, settings)


@router.get("/api/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: int, conn: Conn, user: Clinician, settings: AppSettings) -> Any:
    row = q.get_alert(conn, alert_id, ward_ids=user.ward_ids, windows=q.TrendWindows.from_settings(settings))
    if row is None:
        raise NotFound(f"no alert {alert_id} on your wards")
    return annotate(row, datetime.now(UTC))


class ActionIn(StrictIn):
    action: Literal["acknowledge", "note", "respond", "resolve", "snooze", "unsnooze"]
    note: Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS)] | None = None
    response_kind: Annotated[ResponseKind, Strict(False)] | None = None  # its values, from a form or JSON
    snooze_until: AwareMoment | None = None
    snooze_minutes: Annotated[int, Field(gt=0, le=24 * 60)] | None = None
    snooze_reason: Annotated[str, Field(min_length=1, max_length=MAX_SNOOZE_REASON_CHARS)] | None = None


@router.post("/api/alerts/{alert_id}/actions", response_model=AlertOut)
def act(
    alert_id: int, request: Request, body: ActionIn, conn: Conn, user: Clinician, settings: AppSettings
) -> Response:
    """Acknowledge, note, respond, resolve, snooze or unsnooze; invalid transitions are a 409 with the reason."""
    if q.get_alert(conn, alert_id, ward_ids=user.ward_ids) is None:
        raise NotFound(f"no alert {alert_id} on your wards")
    now = datetime.now(UTC)
    until = body.snooze_until
    if until is None and body.snooze_minutes is not None:
        until = now + timedelta(minutes=body.snooze_minutes)
    with conn.transaction():
        apply_action(
            conn,
            alert_id=alert_id,
            action=body.action,
            actor_id=user.id,
            now=now,
            note=body.note,
            response_kind=body.response_kind,
            snooze_until=until,
            snooze_reason=body.snooze_reason,
        )
    publish_pending(conn, get_redis(request), settings=settings)
    if wants_html(request):
        return RedirectResponse(safe_next(request, "/"), status_code=303)
    row = q.get_alert(conn, alert_id, ward_ids=user.ward_ids)
    return JSONResponse(jsonable_encoder(annotate(row, now)) if row else {"id": alert_id})
