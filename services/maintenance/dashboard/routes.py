"""Serving the dashboard on the maintenance worker: pages, static files, JSON API, OpenAPI."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from faust import web

from services.maintenance.dashboard.api import Call, DashboardApi, NotFoundError
from services.maintenance.dashboard.inputs import DashboardInputError, json_body
from services.maintenance.dashboard.openapi import OPENAPI_PATH, document
from services.maintenance.dashboard.operations import OPERATIONS, Operation
from services.maintenance.dashboard.pages import (
    STATIC_TYPES,
    dashboard_page,
    request_page,
    static_file,
)
from streams.reliability.deadletter import DeadLetterNotFoundError
from streams.servers.app import TrendStreamApp
from streams.servers.web import authorize, read_body

__all__ = ["PAGE_PATHS", "install_dashboard"]

PAGE_PATHS = ("/dashboard", "/dashboard/requests/{request_id}", "/dashboard/static/{name}")


def install_dashboard(app: TrendStreamApp, api: DashboardApi) -> None:
    """Register the pages, the static files, every API route and the OpenAPI document."""
    by_path: dict[str, dict[str, Operation]] = defaultdict(dict)
    for op in OPERATIONS:
        by_path[op.path][op.method] = op
    for path, methods in by_path.items():
        app.page(path)(_api_view(path, methods, api))
    _install_pages(app, api)


def _api_view(path: str, methods: dict[str, Operation], api: DashboardApi) -> type[web.View]:
    handlers: dict[str, Any] = {}
    for method, op in methods.items():
        handlers[method] = _handler(op, api)
    name = "Api" + "".join(
        part.title() for part in path.replace("{", "").replace("}", "").split("/")
    )
    return type(name, (web.View,), handlers)


def _handler(op: Operation, api: DashboardApi) -> Any:
    async def handle(view: web.View, request: web.Request, **params: Any) -> web.Response:
        return await serve(view, request, op, api, params)

    handle.__doc__ = op.summary
    return handle


async def serve(
    view: web.View, request: web.Request, op: Operation, api: DashboardApi, params: dict[str, Any]
) -> web.Response:
    """Check the token (actions), parse, call the operation; errors as JSON, never a traceback
    (what is not answered here is by the worker's JSON errors: 413, 503, 500)."""
    if op.action:
        denied = authorize(view, request, api.settings)
        if denied is not None:
            return denied
    try:
        raw = await read_body(request, api.settings.max_request_bytes) if op.body else b""
        body = json_body(raw) if op.body else {}
        call = Call(
            path={k: str(v) for k, v in params.items()}, query=dict(request.query), body=body
        )
        result = await getattr(api, op.handler)(call)
    except DashboardInputError as exc:
        return view.json({"error": str(exc)}, status=400)
    except (NotFoundError, DeadLetterNotFoundError) as exc:
        return view.json({"error": str(exc)}, status=404)
    return view.json(result, status=op.status)


def _install_pages(app: TrendStreamApp, api: DashboardApi) -> None:
    spec = document()
    refresh_s = api.settings.dashboard_refresh_s

    @app.page(OPENAPI_PATH)
    async def openapi(view: web.View, request: web.Request) -> web.Response:
        return view.json(spec)

    @app.page("/dashboard")
    async def overview(view: web.View, request: web.Request) -> web.Response:
        return view.html(dashboard_page(refresh_s))

    @app.page("/dashboard/requests/{request_id}")
    async def detail(view: web.View, request: web.Request, request_id: str) -> web.Response:
        try:
            await api.status(request_id)
        except DashboardInputError as exc:
            return view.json({"error": str(exc)}, status=400)
        except NotFoundError as exc:
            return view.json({"error": str(exc)}, status=404)
        return view.html(request_page(refresh_s, request_id))

    @app.page("/dashboard/static/{name}")
    async def static(view: web.View, request: web.Request, name: str) -> web.Response:
        if name not in STATIC_TYPES:
            return view.json({"error": f"no static file {name!r}"}, status=404)
        headers = {"Content-Type": STATIC_TYPES[name], "Cache-Control": "no-cache"}
        return view.bytes(static_file(name), headers=headers)
