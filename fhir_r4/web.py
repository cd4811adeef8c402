"""What the FHIR door's routes share: the FHIR JSON response, the posted body read as JSON, the route
class that turns errors into OperationOutcomes, the pooled connection, the bearer-token checks per scope,
and search-parameter access."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from psycopg_pool import ConnectionPool

from fhir_r4 import bundles, clients, search
from fhir_r4.errors import BadRequest, FhirError, ResourceNotFound
from fhir_r4.resources import Resource
from vward.config import Settings

BASE_PATH = "/fhir/R4"
TOKEN_PATH = "/oauth2/token"
FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def fhir_json(body: Resource, status: int = 200) -> Response:
    return FhirResponse(body, status_code=status)


async def posted_json(request: Request) -> Any:
    """The posted body as JSON, or a 400 OperationOutcome: not JSON, or a NUL anywhere in it (PostgreSQL
    text cannot hold one). The size is bounded by the web app's middleware (VWARD_FHIR_MAX_BODY_BYTES)."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from exc
    if "\x00" in json.dumps(body):
        raise BadRequest("the body contains a NUL character")
    return body


class FhirRoute(APIRoute):
    """Turns the door's errors and unreadable parameters into OperationOutcomes, never a bare 4xx or a 500."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except FhirError as exc:
                return fhir_json(bundles.outcome("error", exc.code, str(exc)), exc.status)
            except RequestValidationError as exc:
                msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
                return fhir_json(bundles.outcome("error", "invalid", msgs), 400)

        return handler


def pooled_conn(request: Request) -> Iterator[psycopg.Connection]:
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


Conn = Annotated[psycopg.Connection, Depends(pooled_conn)]


def app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _reader(request: Request, conn: Conn) -> clients.Client:
    client = clients.authenticate(conn, request.headers.get("authorization"), datetime.now(UTC))
    client.need(bundles.SCOPE_READ)
    return client


Reader = Annotated[clients.Client, Depends(_reader)]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + BASE_PATH


def search_params(request: Request, allowed: set[str]) -> dict[str, list[str]]:
    unknown = sorted(set(request.query_params) - allowed - {"_count", "_offset", "_format"})
    if unknown:
        raise BadRequest(f"unsupported search parameter(s): {', '.join(unknown)}")
    return {k: request.query_params.getlist(k) for k in request.query_params}


def one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise BadRequest(f"{name} may be given once")
    return values[0] if values else None


def paging_of(params: dict[str, list[str]]) -> search.Paging:
    return search.paging(one(params, "_count"), one(params, "_offset"))


def query_pairs(params: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, vs in params.items() if k not in ("_count", "_offset") for v in vs]


def int_id(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ResourceNotFound(f"no {what} {value}")
    return int(value)


def _writer(request: Request, conn: Conn) -> clients.Client:
    client = clients.authenticate(conn, request.headers.get("authorization"), datetime.now(UTC))
    client.need(bundles.SCOPE_WRITE_OBSERVATIONS)
    return client


Writer = Annotated[clients.Client, Depends(_writer)]
