"""Runs one collect request and reports each state it reaches as a RequestStatus."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from services.collector.plugins import PluginContext, PluginError, PluginRegistry
from streams.config import Settings
from streams.exceptions import RecordValidationError, UnknownPluginError
from streams.records import CollectRequest, RawItem, RequestState, RequestStatus

__all__ = ["ItemSink", "RequestRunner", "StatusSink", "worker_name"]

log = logging.getLogger(__name__)
StatusSink = Callable[[RequestStatus], Awaitable[None]]
ItemSink = Callable[[RawItem], Awaitable[None]]
SAMPLE_SIZE = 5
EXPECTED_FAILURES = (PluginError, UnknownPluginError, RecordValidationError)


def worker_name() -> str:
    """host:pid of this worker, as shown in request statuses."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RequestRunner:
    """Parses a trigger, runs its plugin and publishes RECEIVED, STARTED, then the outcome."""

    def __init__(
        self, registry: PluginRegistry, settings: Settings, statuses: StatusSink, items: ItemSink
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.statuses = statuses
        self.items = items
        self.worker = worker_name()

    async def handle(self, payload: bytes | None, fallback_id: str) -> RequestStatus:
        """Answer one message of a request topic; never raises for a bad message."""
        try:
            request = CollectRequest.parse(payload)
        except RecordValidationError as exc:
            return await self._report(fallback_id, "", RequestState.FAILURE, {}, error=exc)
        return await self.run(request)

    async def run(self, request: CollectRequest) -> RequestStatus:
        """Run a parsed request to its final state."""
        timings = {"received": time.time()}
        await self._report(request.request_id, request.plugin, RequestState.RECEIVED, timings)
        try:
            plugin = self.registry.get(request.plugin)
            timings["started"] = time.time()
            await self._report(request.request_id, request.plugin, RequestState.STARTED, timings)
            result = await self._collect(plugin, request)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a FAILURE status
            return await self._fail(request, timings, exc)
        return await self._finish(request, timings, RequestState.SUCCESS, result=result)

    async def _collect(self, plugin: Any, request: CollectRequest) -> dict[str, Any]:
        ctx = PluginContext(request.request_id, self.settings, request.dry_run)
        count, sample = 0, list[dict[str, Any]]()
        async for item in plugin.collect(ctx, plugin.options(request.options)):
            count += 1
            if not request.dry_run:
                await self.items(item)
            elif len(sample) < SAMPLE_SIZE:
                sample.append(item.asdict())
        result: dict[str, Any] = {"plugin": plugin.name, "items": count, "dry_run": request.dry_run}
        if request.dry_run:
            result["sample"] = sample
        return result

    async def _fail(
        self, request: CollectRequest, timings: dict[str, float], exc: Exception
    ) -> RequestStatus:
        if not isinstance(exc, EXPECTED_FAILURES):
            log.exception("request failed", extra={"request_id": request.request_id})
        return await self._finish(request, timings, RequestState.FAILURE, error=exc)

    async def _finish(
        self,
        request: CollectRequest,
        timings: dict[str, float],
        state: RequestState,
        **outcome: Any,
    ) -> RequestStatus:
        timings["finished"] = time.time()
        return await self._report(request.request_id, request.plugin, state, timings, **outcome)

    async def _report(
        self,
        request_id: str,
        plugin: str,
        state: RequestState,
        timings: dict[str, float],
        *,
        result: dict[str, Any] | None = None,
        error: Exception | None = None,
    ) -> RequestStatus:
        status = RequestStatus(
            request_id=request_id,
            state=state,
            plugin=plugin,
            result=result,
            error=str(error) if error else None,
            error_type=type(error).__name__ if error else None,
            timings=dict(timings),
            worker=self.worker,
        )
        await self.statuses(status)
        log.info(
            "request %s plugin=%s error=%s",
            state.value,
            plugin or "-",
            status.error or "-",
            extra={"request_id": request_id},
        )
        return status
