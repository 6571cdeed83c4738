"""Web views every worker serves."""

from __future__ import annotations

from typing import Any

from faust import web

from streams.app import TrendStreamApp
from streams.health import BrokerProbe, health_report

__all__ = ["add_health_view"]


def add_health_view(app: TrendStreamApp) -> Any:
    """Register GET /health: 200 with the report when the broker answers, 503 otherwise."""
    probe = BrokerProbe(app.settings)

    @app.page("/health")
    async def health(view: web.View, request: web.Request) -> web.Response:
        report = await health_report(app, app.service_name, probe)
        return view.json(report, status=200 if report["status"] == "ok" else 503)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _close_probe(sender: Any, **kwargs: Any) -> None:
        await probe.close()

    return health
