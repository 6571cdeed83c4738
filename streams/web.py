"""Web views every worker serves."""

from __future__ import annotations

import hmac
from typing import Any

from faust import web

from streams.app import TrendStreamApp
from streams.config import Settings
from streams.health import BrokerProbe, health_report
from streams.metrics import CONTENT_TYPE, render

__all__ = ["add_health_view", "add_metrics_view", "authorize"]


def add_health_view(app: TrendStreamApp) -> Any:
    """Register GET /health: 200 with the report when the broker answers, 503 otherwise.

    Also GET /health/live (200 while the worker answers) and GET /health/ready (200 with the
    report when it is ready: broker answering, partitions assigned, no rebalance; 503 otherwise).
    """
    probe = BrokerProbe(app.settings)

    @app.page("/health")
    async def health(view: web.View, request: web.Request) -> web.Response:
        report = await health_report(app, app.service_name, probe)
        return view.json(report, status=200 if report["status"] == "ok" else 503)

    @app.page("/health/live")
    async def live(view: web.View, request: web.Request) -> web.Response:
        return view.json({"service": app.service_name, "live": True})

    @app.page("/health/ready")
    async def ready(view: web.View, request: web.Request) -> web.Response:
        report = await health_report(app, app.service_name, probe)
        return view.json(report, status=200 if report["ready"] else 503)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _close_probe(sender: Any, **kwargs: Any) -> None:
        await probe.close()

    return health


def add_metrics_view(app: TrendStreamApp) -> Any:
    """Register GET /metrics: this worker's metrics in Prometheus' text format."""

    @app.page("/metrics")
    async def metrics(view: web.View, request: web.Request) -> web.Response:
        return view.bytes(render(app), headers={"Content-Type": CONTENT_TYPE})

    return metrics


def authorize(view: web.View, request: web.Request, settings: Settings) -> web.Response | None:
    """None when the request carries `Authorization: Bearer <API_TOKEN>`, else a 401 response."""
    token = settings.api_token.get_secret_value()
    if not token:
        return view.json({"error": "API_TOKEN is not set: web actions are disabled"}, status=401)
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        return view.json({"error": "missing or wrong bearer token"}, status=401)
    return None
