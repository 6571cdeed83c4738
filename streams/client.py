"""A client for any Python program: request a collection or a job, follow it, wait, cancel."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.config import Settings, get_settings
from streams.exceptions import TrendStreamError
from streams.records import (
    CollectRequest,
    ControlCommand,
    JobRequest,
    MaintenanceRequest,
    ProcessRequest,
    RequestState,
    RequestStatus,
    check_request_id,
)
from streams.state import RequestStates, redis_client
from streams.topics import (
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    CONTROL,
    MAINTENANCE_REQUESTS,
    PROCESS_REQUESTS,
    TopicSpec,
)

__all__ = [
    "PRIORITY_LANE_FROM",
    "RequestFailedError",
    "RequestHandle",
    "RequestTimeoutError",
    "request_collection",
    "request_maintenance",
    "request_processing",
    "send",
    "submit",
]

log = logging.getLogger(__name__)
PRIORITY_LANE_FROM = 5
"""Requests of this priority or more go to collect.requests.priority."""
POLL_INTERVAL_S = 0.05


class RequestTimeoutError(TrendStreamError):
    """No final status arrived for a request within the time asked for."""


class RequestFailedError(TrendStreamError):
    """The request ended in FAILURE or REVOKED; `status` holds the details."""

    def __init__(self, status: RequestStatus) -> None:
        super().__init__(f"request {status.request_id} {status.state.value}: {status.error}")
        self.status = status


async def send(settings: Settings, spec: TopicSpec, key: str, value: bytes) -> None:
    """Produce one message and wait for the broker's acknowledgement (every replica)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_list,
        acks="all",
        max_request_size=settings.dead_letter_max_bytes,
    )
    await producer.start()
    try:
        await producer.send_and_wait(spec.full_name(settings), value, key=key.encode())
    finally:
        await producer.stop()


async def submit(
    settings: Settings,
    states: RequestStates,
    request: CollectRequest | JobRequest,
    spec: TopicSpec,
) -> None:
    """Record the request PENDING, then produce it; if it cannot be sent, PENDING is replaced
    at once by a FAILURE saying why, so no request stays PENDING that no worker will ever see.

    PENDING is stored before the send (never after), so it cannot overwrite a state a worker
    reported already. Raises what the send raised.
    """
    name = request.plugin if isinstance(request, CollectRequest) else request.job
    pending = RequestStatus(request_id=request.request_id, state=RequestState.PENDING, plugin=name)
    await states.save(pending)
    try:
        await send(settings, spec, request.request_id, request.dumps())
    except BaseException as exc:
        failed = RequestStatus(
            request_id=request.request_id,
            state=RequestState.FAILURE,
            plugin=name,
            error=f"the request could not be sent to {spec.name}: {type(exc).__name__}: {exc}",
            error_type=type(exc).__name__,
        )
        try:
            await asyncio.shield(states.save(failed))
        except Exception:
            log.exception("request not sent, and its FAILURE not stored")
        raise


class RequestHandle:
    """Like Celery's AsyncResult: `state()`, `result(timeout)`, `cancel()` for one request."""

    def __init__(self, request_id: str, settings: Settings, timeout: float = 60.0) -> None:
        """RecordValidationError when `request_id` does not follow the request id rule."""
        self.request_id = check_request_id(request_id)
        self.settings = settings
        self.timeout = timeout
        self._redis = redis_client(settings)
        self._states = RequestStates(self._redis, settings)

    async def status(self) -> RequestStatus | None:
        """The latest status, or None while no worker has reported on the request."""
        return await self._states.get(self.request_id)

    async def state(self) -> RequestState:
        """The current state (PENDING until a worker reports)."""
        status = await self.status()
        return status.state if status else RequestState.PENDING

    async def wait(self, timeout: float | None = None) -> RequestStatus:
        """Block until a final status (SUCCESS, FAILURE, REVOKED) and return it."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            status = await self.status()
            if status is not None and status.state.is_final:
                return status
            if time.monotonic() >= deadline:
                raise RequestTimeoutError(
                    f"request {self.request_id}: no result within {timeout or self.timeout:g}s "
                    f"(last state: {status.state.value if status else 'PENDING'})"
                )
            await asyncio.sleep(POLL_INTERVAL_S)

    async def result(self, timeout: float | None = None) -> dict[str, Any]:
        """The result of a SUCCESS; RequestFailedError on FAILURE or REVOKED (like `.get()`)."""
        status = await self.wait(timeout)
        if status.state is not RequestState.SUCCESS:
            raise RequestFailedError(status)
        return status.result or {}

    async def cancel(self, issued_by: str = "client") -> None:
        """Revoke the request: skipped if still queued, stopped if running.

        The revocation is stored in Redis at once (so it holds even while no worker runs, and
        across restarts) and announced on `control` for the record and the workers.
        """
        await self._states.revoke(self.request_id)
        command = ControlCommand(command="revoke", request_id=self.request_id, issued_by=issued_by)
        await send(self.settings, CONTROL, self.request_id, command.dumps())

    async def close(self) -> None:
        """Release the Redis connection."""
        await self._redis.aclose()

    async def __aenter__(self) -> RequestHandle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def request_collection(
    plugin: str,
    *,
    options: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    then_process: bool = False,
    priority: int = 0,
    requested_by: str = "client",
    request_id: str | None = None,
    timeout: float = 60.0,
    settings: Settings | None = None,
) -> RequestHandle:
    """Produce a CollectRequest and return its handle (`timeout`: the default wait).

    `request_id`: the request's id (default: a new one); RecordValidationError for an id
    outside the request id rule or a malformed request, before anything is sent.
    """
    settings = settings or get_settings()
    request = CollectRequest(
        plugin=plugin,
        options=dict(options or {}),
        dry_run=dry_run,
        then_process=then_process,
        priority=priority,
        requested_by=requested_by,
        request_id=request_id or "",
    )
    request.check()
    spec = COLLECT_REQUESTS_PRIORITY if priority >= PRIORITY_LANE_FROM else COLLECT_REQUESTS
    await send(settings, spec, request.request_id, request.dumps())
    return RequestHandle(request.request_id, settings, timeout)


async def request_processing(
    job: str,
    *,
    options: Mapping[str, Any] | None = None,
    requested_by: str = "client",
    request_id: str | None = None,
    timeout: float = 300.0,
    settings: Settings | None = None,
) -> RequestHandle:
    """Produce a ProcessRequest (sweep, reprocess_trends, ...) and return its handle."""
    request = ProcessRequest(
        job=job, options=dict(options or {}), requested_by=requested_by, request_id=request_id or ""
    )
    return await _request_job(request, PROCESS_REQUESTS, timeout, settings)


async def request_maintenance(
    job: str,
    *,
    options: Mapping[str, Any] | None = None,
    requested_by: str = "client",
    request_id: str | None = None,
    timeout: float = 600.0,
    settings: Settings | None = None,
) -> RequestHandle:
    """Produce a MaintenanceRequest (health, cleanup, plugin_health, analytics, backup, lag)."""
    request = MaintenanceRequest(
        job=job, options=dict(options or {}), requested_by=requested_by, request_id=request_id or ""
    )
    return await _request_job(request, MAINTENANCE_REQUESTS, timeout, settings)


async def _request_job(
    request: JobRequest, spec: TopicSpec, timeout: float, settings: Settings | None
) -> RequestHandle:
    settings = settings or get_settings()
    request.check()
    await send(settings, spec, request.request_id, request.dumps())
    return RequestHandle(request.request_id, settings, timeout)
