"""Health: ``/healthz`` for operators, ``/livez`` for the container, ``/api/status`` for the outage banner, and
the web app's heartbeat.

``/healthz`` reports each component alerts depend on (database, Redis, the MQTT broker, ingest, the hub)
with its age, and answers 503 when one is down or silent. The web app beats like the other processes,
from a daemon thread started in the app's lifespan, which also pushes the coordinators a notice when the
hub or ingest goes silent (see ``alerting.outage``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

from alerting import liveness, outage
from alerting.delivery import PushDelivery
from alerting.errors import VapidKeyMissing
from alerting.guarded_http import guarded_session
from alerting.push import load_vapid_key, vapid_key_path
from alerting.throttle import WarningThrottle
from clinician_ui.deps import AppSettings, Conn, get_redis, public, require
from clinician_ui.routing import make_router
from clinician_ui.security import User
from vward import heartbeat
from vward.config import Settings

router = make_router("health")
log = logging.getLogger(__name__)
warnings = WarningThrottle(log)
SignedIn = Annotated[User, Depends(require("nurse", "coordinator", "admin"))]
BROKER_CONNECT_TIMEOUT_S = 1.0


def _component_states(conn: psycopg.Connection, settings: Settings) -> dict[str, liveness.ComponentState]:
    return liveness.states(heartbeat.latest(conn), now=datetime.now(UTC), stale_after_s=settings.heartbeat_stale_s)


def _broker_reachable(settings: Settings) -> str | None:
    """None if a TCP connection to the MQTT broker opens, else why not."""
    try:
        with socket.create_connection((settings.mqtt_host, settings.mqtt_port), timeout=BROKER_CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:
        return type(exc).__name__


class ComponentOut(BaseModel):
    ok: bool
    error: str | None = None
    last_beat_at: str | None = None
    age_s: float | None = None


class HealthOut(BaseModel):
    status: str  # "ok" or "degraded"
    components: dict[str, ComponentOut]


@router.get("/healthz", dependencies=[Depends(public)], response_model=HealthOut, responses={503: {"model": HealthOut}})
def healthz(request: Request, conn: Conn, settings: AppSettings) -> JSONResponse:
    """Every component alerts depend on; 503 when one is down or has been silent too long."""
    components: dict[str, dict[str, Any]] = {}
    try:
        conn.execute("SELECT 1")
        seen = _component_states(conn, settings)
        components["database"] = {"ok": True}
    except psycopg.Error as exc:
        components["database"] = {"ok": False, "error": type(exc).__name__}
        seen = {}
    try:
        get_redis(request).ping()
        components["redis"] = {"ok": True}
    except Exception as exc:  # any Redis failure means not ready
        components["redis"] = {"ok": False, "error": type(exc).__name__}
    problem = _broker_reachable(settings)
    components["broker"] = {"ok": problem is None} | ({"error": problem} if problem else {})
    for name in liveness.COMPONENTS:
        state = seen.get(name)
        components[name] = {
            "ok": bool(state and state.alive),
            "last_beat_at": state.last_beat_at.isoformat() if state and state.last_beat_at else None,
            "age_s": round(state.age_s, 1) if state and state.age_s is not None else None,
        }
    needed = ("database", "redis", "broker", *liveness.ALERT_PATH)
    ok = all(components[name]["ok"] for name in needed)
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "components": components}, status_code=200 if ok else 503
    )


@router.get("/livez", dependencies=[Depends(public)])
def livez(conn: Conn) -> dict[str, str]:
    """This web process answers and reaches its database: for a container's healthcheck (``/healthz`` is
    about the whole alert path, and a silent hub is no reason to restart the web app)."""
    conn.execute("SELECT 1")
    return {"status": "ok"}


@router.get("/api/status")
def status(conn: Conn, user: SignedIn, settings: AppSettings) -> dict[str, Any]:
    """What the outage banner shows: the alert path's silent components, in words."""
    return {"outages": liveness.outages(_component_states(conn, settings))}


def start_heartbeat(pool: ConnectionPool, settings: Settings) -> Callable[[], None]:
    """Beats for this web process every ``heartbeat_interval_s`` (and announces outages) until the returned
    function is called."""
    stop = threading.Event()
    instance = f"{socket.gethostname()}:{os.getpid()}"
    try:
        vapid = load_vapid_key(vapid_key_path(settings))
    except VapidKeyMissing:
        vapid = None
    session = guarded_session(allow_test_endpoints=settings.push_allow_test_endpoints)

    def run() -> None:
        while not stop.is_set():
            try:
                with pool.connection() as conn:
                    now = datetime.now(UTC)
                    heartbeat.beat(conn, component="web", instance=instance, now=now)
                    seen = liveness.states(heartbeat.latest(conn), now=now, stale_after_s=settings.heartbeat_stale_s)
                    outage.announce(
                        conn, PushDelivery(settings, conn=conn, vapid=vapid, session=session), seen, now=now
                    )
            except Exception as exc:  # the database may be down: say so (once a minute) and keep beating
                warnings.warning("beat", "web heartbeat failed (%s: %s)", type(exc).__name__, str(exc)[:200])
            stop.wait(settings.heartbeat_interval_s)

    thread = threading.Thread(target=run, name="web-heartbeat", daemon=True)
    thread.start()

    def stop_beating() -> None:
        stop.set()
        thread.join(timeout=10)
        session.close()

    return stop_beating
