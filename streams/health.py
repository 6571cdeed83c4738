"""Liveness and readiness of a worker: broker connectivity and partition assignment."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust
from aiokafka import AIOKafkaClient

from streams import __version__
from streams.config import Settings

__all__ = ["BrokerProbe", "health_report", "is_ready"]


class BrokerProbe:
    """Answers "can this worker reach the broker?", asking at most once per `ttl` seconds."""

    def __init__(self, settings: Settings, ttl: float = 2.0, timeout: float = 3.0) -> None:
        self.settings = settings
        self.ttl = ttl
        self.timeout = timeout
        self._client: AIOKafkaClient | None = None
        self._checked_at = 0.0
        self._connected = False
        self._error = ""

    async def check(self) -> tuple[bool, str]:
        """(connected, error) from a metadata request, cached for `ttl` seconds."""
        if time.monotonic() - self._checked_at > self.ttl:
            self._connected, self._error = await self._ask()
            self._checked_at = time.monotonic()
        return self._connected, self._error

    async def _ask(self) -> tuple[bool, str]:
        try:
            client = await self._ensure_client()
            await asyncio.wait_for(client.fetch_all_metadata(), self.timeout)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            return False, f"{type(exc).__name__}: {exc}"
        return True, ""

    async def _ensure_client(self) -> AIOKafkaClient:
        if self._client is None:
            client = AIOKafkaClient(bootstrap_servers=self.settings.bootstrap_list)
            await asyncio.wait_for(client.bootstrap(), self.timeout)
            self._client = client
        return self._client

    async def close(self) -> None:
        """Close the probe's connection."""
        if self._client is not None:
            await self._client.close()
            self._client = None


def is_ready(connected: bool, assignment: list[str], rebalancing: bool) -> bool:
    """Ready for work: the broker answers and the worker holds partitions, not mid-rebalance."""
    return connected and bool(assignment) and not rebalancing


async def health_report(app: faust.App, service: str, probe: BrokerProbe) -> dict[str, Any]:
    """The JSON of GET /health: ok when the broker answers and the app runs.

    `live` is always true (the worker answers); `ready` is `is_ready`.
    """
    connected, error = await probe.check()
    assignment = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
    return {
        "service": service,
        "status": "ok" if connected else "degraded",
        "live": True,
        "ready": is_ready(connected, assignment, bool(app.rebalancing)),
        "version": __version__,
        "broker": {"connected": connected, "error": error or None},
        "assignment": assignment,
        "app_id": app.conf.id,
    }
