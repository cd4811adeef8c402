"""Liveness and readiness: the database and Redis both answer."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from clinician_ui.deps import Conn, get_redis, public
from clinician_ui.routing import make_router

router = make_router("health")


@router.get("/healthz", dependencies=[Depends(public)])
def healthz(request: Request, conn: Conn) -> JSONResponse:
    conn.execute("SELECT 1")
    try:
        get_redis(request).ping()
    except Exception as exc:  # any Redis failure means not ready
        return JSONResponse({"status": "degraded", "redis": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})
