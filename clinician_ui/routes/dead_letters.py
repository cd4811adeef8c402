"""Dead letters for admins: work the alert hub could not do (``alerting.dead_letters``), to retry or dismiss.

Retrying a stream entry puts its fields back on the alert stream (a new entry: the hub's per-subscription
delivery keys stop anyone being pushed twice); retrying a clock or missed-readings check lets the next
tick run it again. Both actions and dismissals are audited by ``alerting.dead_letters``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from alerting import dead_letters
from clinician_ui.deps import Admin, AppSettings, Conn, get_redis, wants_html
from clinician_ui.errors import NotFound
from clinician_ui.routing import make_router
from clinician_ui.schemas import NoBody
from clinician_ui.templating import render

router = make_router("admin")


class HandledOut(BaseModel):
    id: int
    status: str


@router.get("/admin/dead-letters", include_in_schema=False)
def dead_letters_page(request: Request, conn: Conn, user: Admin) -> Response:
    return render(request, "admin_dead_letters.html", {"letters": dead_letters.live(conn)})


@router.get("/api/dead-letters", response_model=list[dict[str, Any]])
def list_dead_letters(conn: Conn, user: Admin) -> list[dict[str, Any]]:
    """Parked and failing work, newest failure first."""
    return [jsonable_encoder(asdict(d)) for d in dead_letters.live(conn)]


@router.post("/api/dead-letters/{dead_id}/{action}", response_model=HandledOut)
def handle_dead_letter(
    dead_id: int,
    action: Literal["retry", "dismiss"],
    request: Request,
    conn: Conn,
    user: Admin,
    settings: AppSettings,
    body: NoBody | None = None,
) -> Response:
    """Retries or dismisses one piece of failing or parked work (audited)."""
    try:
        letter = dead_letters.handle(conn, dead_id=dead_id, action=action, actor_id=user.id, now=datetime.now(UTC))
    except dead_letters.DeadLetterNotFound as exc:
        raise NotFound(str(exc)) from exc
    if action == "retry" and letter.kind == "stream_entry":
        get_redis(request).xadd(
            settings.alert_stream,
            {str(k): str(v) for k, v in letter.payload.items()},
            maxlen=settings.alert_stream_maxlen,
            approximate=True,
        )
    if wants_html(request):
        return RedirectResponse("/admin/dead-letters", status_code=303)
    return JSONResponse({"id": dead_id, "status": dead_letters.OUTCOMES[action]})
