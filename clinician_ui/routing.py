"""The one gate every request passes before its handler: CSRF, control characters, JSON depth, forms.

``TypedRoute`` is the route class of every router (``make_router``). HTML forms are validated by the
route's own pydantic model in lax mode (form values are strings) and handed on as JSON, so a form and a JSON
client go through the same model; JSON itself is validated strictly.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Coroutine
from typing import Any, Union, get_args, get_origin

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import Response

from clinician_ui.errors import Forbidden, MalformedBody
from clinician_ui.input_guard import CONTROL_MESSAGE, find_control, form_to_data, has_control, json_too_deep
from clinician_ui.schemas import ERROR_RESPONSES
from clinician_ui.security import csrf_ok

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    def is_list(annotation: Any) -> bool:
        if get_origin(annotation) is list:
            return True
        return get_origin(annotation) in (Union, types.UnionType) and any(is_list(a) for a in get_args(annotation))

    return frozenset(name for name, f in model.model_fields.items() if is_list(f.annotation))


def _refuse_control(where: str, value: Any) -> None:
    found = find_control(value, (where,))
    if found is not None:
        raise RequestValidationError([{"type": "control_characters", "loc": found, "msg": CONTROL_MESSAGE}])


def _check_params(request: Request) -> None:
    for key, value in request.path_params.items():
        if isinstance(value, str) and has_control(value):
            _refuse_control("path", {key: value})
    _refuse_control("query", [*request.query_params.keys()])
    _refuse_control("query", dict(request.query_params.multi_items()))


def _with_json_body(request: Request, data: Any) -> Request:
    """The same request (same scope state) with ``data`` as its JSON body."""
    raw = json.dumps(data).encode()
    headers = [(k, v) for k, v in request.scope["headers"] if k not in (b"content-type", b"content-length")]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return Request({**request.scope, "headers": headers}, receive)


async def _form_request(request: Request, model: type[BaseModel] | None) -> Request:
    form = await request.form()
    items = [(k, v if isinstance(v, str) else "") for k, v in form.multi_items() if not isinstance(v, UploadFile)]
    request.state.form_csrf = next((v for k, v in items if k == "csrf_token"), None)
    request.state.form_next = next((v for k, v in items if k == "next"), None)
    fields = [(k, v) for k, v in items if k not in ("csrf_token", "next")]
    _refuse_control("body", dict(fields))
    if model is None:
        return request
    data = form_to_data(fields, _list_fields(model))
    try:
        parsed = model.model_validate(data, strict=False)
    except ValidationError as exc:
        raise RequestValidationError(
            [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        ) from exc
    return _with_json_body(request, parsed.model_dump(mode="json", exclude_unset=True))


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is too large")
    return value


async def _json_request(request: Request, max_depth: int) -> Request:
    raw = await request.body()
    if not raw:
        return request
    if json_too_deep(raw, max_depth):
        raise MalformedBody(f"the body is nested more than {max_depth} levels deep")
    try:
        data = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except ValueError as exc:  # also bad UTF-8, NaN/Infinity and integers too long to convert
        raise MalformedBody(f"the body is not valid JSON: {exc}") from exc
    _refuse_control("body", data)
    return request


class TypedRoute(APIRoute):
    """An API route whose requests are checked before FastAPI's own parsing (see the module docstring)."""

    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()
        model = _model_of(self.body_field.field_info.annotation) if self.body_field else None

        async def handler(request: Request) -> Response:
            settings = request.app.state.settings
            _check_params(request)
            if request.method not in SAFE_METHODS:
                ctype = request.headers.get("content-type", "")
                if ctype.startswith(FORM_TYPES):
                    request = await _form_request(request, model)
                token = request.headers.get("x-csrf-token") or getattr(request.state, "form_csrf", None)
                if not csrf_ok(getattr(request.state, "sid", None), settings.session_secret, token):
                    raise Forbidden("missing or wrong CSRF token: reload the page and try again")
                if not ctype.startswith(FORM_TYPES):
                    request = await _json_request(request, settings.web_max_json_depth)
            return await original(request)

        return handler


def make_router(tag: str) -> APIRouter:
    """A router whose routes pass the gate above and document the error answers."""
    return APIRouter(tags=[tag], route_class=TypedRoute, responses=ERROR_RESPONSES)
