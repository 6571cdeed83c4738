"""The collector's web views: health, trigger a collection, read or cancel a request."""

from __future__ import annotations

from faust import web

from services.collector.agents import resources
from services.collector.app import app
from services.collector.plugins import default_registry
from services.collector.runner import parse_trigger
from streams.exceptions import RecordValidationError, UnknownPluginError
from streams.messages.records import request_id_problem
from streams.reliability.retry import is_outage
from streams.requests.client import revoke, submit
from streams.servers.web import add_health_view, add_metrics_view, authorize, read_body

__all__ = ["CollectView", "RequestCancelView", "RequestView", "health", "metrics"]

health = add_health_view(app)
metrics = add_metrics_view(app)
_registry = default_registry(app.settings)
"""The plugins this worker runs, to refuse an unknown plugin or bad options at the door."""


def _bad_id(view: web.View, request_id: str) -> web.Response | None:
    problem = request_id_problem(request_id)
    if problem is None:
        return None
    return view.json({"error": f"invalid request id: {problem}"}, status=400)


async def _postgres_answers() -> None:
    """Raises an outage naming PostgreSQL while it does not answer: the collector records every
    run there, so a request it accepted now would only wait (the door says 503, as /health)."""
    try:
        await (await resources.pool()).fetchval("SELECT 1")
    except Exception as exc:
        if not is_outage(exc):
            raise
        raise ConnectionError(f"PostgreSQL is unavailable: {type(exc).__name__}: {exc}") from exc


@app.page("/collect")
class CollectView(web.View):
    """POST a CollectRequest (JSON, API token required): 202 with its request id.

    400 for an invalid body, an unknown plugin or malformed options (this worker knows its
    plugins), 413 over MAX_REQUEST_BYTES, 503 (Retry-After) while PostgreSQL, Redis or Kafka
    is away (the request is not sent and ends FAILURE: see `submit`).
    """

    async def post(self, request: web.Request) -> web.Response:
        denied = authorize(self, request, app.settings)
        if denied is not None:
            return denied
        max_bytes = app.settings.max_request_bytes
        collect = parse_trigger(await read_body(request, max_bytes), max_bytes)
        try:
            _registry.check(collect, app.settings)
        except (RecordValidationError, UnknownPluginError) as exc:
            return self.json({"error": str(exc)}, status=400)
        await submit(app.settings, resources.states, collect, ready=_postgres_answers)
        body = {
            "request_id": collect.request_id,
            "state": "PENDING",
            "lane": collect.lane,
            "status_url": f"/requests/{collect.request_id}",
        }
        return self.json(body, status=202)


@app.page("/requests/{request_id}")
class RequestView(web.View):
    """GET the latest status of a request (404 while none is known, 400 for an invalid id)."""

    async def get(self, request: web.Request, request_id: str) -> web.Response:
        bad = _bad_id(self, request_id)
        if bad is not None:
            return bad
        status = await resources.states.get(request_id)
        if status is None:
            body = {"request_id": request_id, "state": "PENDING", "error": "unknown request"}
            return self.json(body, status=404)
        return self.json(status.asdict())


@app.page("/requests/{request_id}/cancel")
class RequestCancelView(web.View):
    """POST (API token required): revoke a request; a queued one is skipped, a running one stops."""

    async def post(self, request: web.Request, request_id: str) -> web.Response:
        denied = authorize(self, request, app.settings)
        if denied is not None:
            return denied
        bad = _bad_id(self, request_id)
        if bad is not None:
            return bad
        await revoke(app.settings, resources.states, request_id, issued_by="web")
        return self.json({"request_id": request_id, "command": "revoke"}, status=202)
