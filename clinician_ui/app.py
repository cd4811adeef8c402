"""The FastAPI application factory: lifespan resources, security middleware, error handlers, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis
import redis.asyncio as aredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from alerting.errors import AlertingError, AlertNotFound
from clinician_ui.deps import system_clock, wants_html
from clinician_ui.errors import NotSignedIn, UIError
from clinician_ui.middleware import SecurityMiddleware
from clinician_ui.queries.errors import NoSuchRecord, RecordsError, UnknownReference
from clinician_ui.routes import (
    admin,
    admissions,
    alerts,
    auth,
    capacity,
    dead_letters,
    escalation,
    health,
    live,
    patients,
)
from clinician_ui.routes import api_clients as api_clients_routes
from clinician_ui.routes import hospital_admissions as hospital_admissions_routes
from clinician_ui.routes import reports as reports_routes
from clinician_ui.templating import render
from fhir_r4 import routes as fhir_routes
from vward.config import Settings

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings) -> FastAPI:
    """The clinician web app for ``settings``; the pool and Redis clients live as long as the app runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=settings.db_pool_max,
            kwargs={"autocommit": True},
            open=False,
            name="clinician-ui",
        )
        pool.open(wait=True)
        app.state.pool = pool
        app.state.redis = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        app.state.aredis = aredis.Redis.from_url(settings.redis_url, decode_responses=True)
        stop_beating = health.start_heartbeat(pool, settings)
        try:
            yield
        finally:
            stop_beating()
            await app.state.aredis.aclose()
            app.state.redis.close()
            pool.close()

    # No /docs or /redoc: FastAPI's pages load their scripts from a CDN, which the CSP (and the network)
    # refuses. The schema is served to signed-in users only, by routes/auth.py.
    app = FastAPI(
        title="vward clinician hub",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.clock = system_clock
    app.add_middleware(SecurityMiddleware, settings=settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (health, auth, live, alerts, capacity, admissions, patients, escalation, admin, dead_letters):
        app.include_router(module.router)
    # The FHIR door describes itself in FHIR's own terms (CapabilityStatement at /fhir/R4/metadata), not in
    # the clinician API's OpenAPI schema.
    app.include_router(fhir_routes.router, include_in_schema=False)
    app.include_router(api_clients_routes.router)
    app.include_router(reports_routes.router)
    app.include_router(hospital_admissions_routes.router)
    _add_error_handlers(app)
    return app


def _error(request: Request, status: int, message: str) -> Response:
    if wants_html(request):
        return render(request, "error.html", {"status": status, "message": message}, status_code=status)
    return JSONResponse({"detail": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if wants_html(request) and request.method == "GET":
            return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
        return JSONResponse({"detail": str(exc)}, status_code=401)

    @app.exception_handler(UIError)
    async def ui_error(request: Request, exc: UIError) -> Response:
        return _error(request, exc.status, str(exc))

    @app.exception_handler(RecordsError)
    async def records_error(request: Request, exc: RecordsError) -> Response:
        status = 404 if isinstance(exc, NoSuchRecord) else 422 if isinstance(exc, UnknownReference) else 409
        return _error(request, status, str(exc))

    @app.exception_handler(AlertingError)
    async def alerting_error(request: Request, exc: AlertingError) -> Response:
        return _error(request, 404 if isinstance(exc, AlertNotFound) else 409, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        msgs = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(request, 422, "; ".join(msgs))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))
