"""The maintenance worker's agents: every alert raised on the alerts topic is logged."""

from __future__ import annotations

import logging
from typing import Any

from services.maintenance.app import app
from services.maintenance.topics import alerts_topic
from streams.logs import event_context

__all__ = ["log_alerts"]

log = logging.getLogger(__name__)


@app.agent(alerts_topic)
async def log_alerts(stream: Any) -> None:
    """Log each alert as one warning line (the payload as text, whatever its shape)."""
    async for event in stream.events():
        text = (event.value or b"").decode("utf-8", errors="replace")
        log.warning("alert %s", text, extra=event_context(event))
