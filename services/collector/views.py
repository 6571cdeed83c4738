"""The collector's web views: health, trigger a collection, read or cancel a request."""

from __future__ import annotations

from faust import web

from services.collector.agents import publish_request, resources
from services.collector.app import app
from services.collector.exceptions import RequestTooLargeError
from services.collector.runner import Lane, parse_trigger
from services.collector.topics import control_topic
from streams.client import PRIORITY_LANE_FROM
from streams.exceptions import RecordValidationError
from streams.records import ControlCommand, RequestState, RequestStatus
from streams.web import add_health_view, add_metrics_view, authorize

__all__ = ["CollectView", "RequestCancelView", "RequestView", "health", "metrics"]

health = add_health_view(app)
metrics = add_metrics_view(app)


@app.page("/collect")
class CollectView(web.View):
    """POST a CollectRequest (JSON, API token required): 202 with its request id."""

    async def post(self, request: web.Request) -> web.Response:
        denied = authorize(self, request, app.settings)
        if denied is not None:
            return denied
        try:
            collect = parse_trigger(await request.read(), app.settings.max_request_bytes)
        except (RecordValidationError, RequestTooLargeError) as exc:
            return self.json({"error": str(exc)}, status=400)
        await resources.states.save(
            RequestStatus(
                request_id=collect.request_id, state=RequestState.PENDING, plugin=collect.plugin
            )
        )
        lane: Lane = "priority" if collect.priority >= PRIORITY_LANE_FROM else "bulk"
        await publish_request(collect, lane)
        body = {
            "request_id": collect.request_id,
            "state": "PENDING",
            "lane": lane,
            "status_url": f"/requests/{collect.request_id}",
        }
        return self.json(body, status=202)


@app.page("/requests/{request_id}")
class RequestView(web.View):
    """GET the latest status of a request (404 while none is known)."""

    async def get(self, request: web.Request, request_id: str) -> web.Response:
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
        await resources.states.revoke(request_id)
        command = ControlCommand(command="revoke", request_id=request_id, issued_by="web")
        await control_topic.send(key=request_id, value=command.dumps())
        return self.json({"request_id": request_id, "command": "revoke"}, status=202)
