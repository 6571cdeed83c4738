"""A client for any Python program: request a collection or a job, follow it, wait, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from streams.config import Settings, get_settings
from streams.exceptions import TrendStreamError
from streams.messages.records import (
    CollectRequest,
    ControlCommand,
    JobRequest,
    MaintenanceRequest,
    ProcessRequest,
    RequestState,
    RequestStatus,
    check_request_id,
)
from streams.messages.topics import (
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    COLLECT_RESULTS,
    CONTROL,
    MAINTENANCE_REQUESTS,
    MAINTENANCE_RESULTS,
    PROCESS_REQUESTS,
    PROCESS_RESULTS,
    TopicSpec,
)
from streams.reliability.decoding import check_size
from streams.requests.state import RequestStates, redis_client

__all__ = [
    "RequestFailedError",
    "RequestHandle",
    "RequestTimeoutError",
    "close",
    "request_collection",
    "request_maintenance",
    "request_processing",
    "request_topic",
    "results_topic",
    "revoke",
    "send",
    "submit",
]

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.05
_JOB_TOPICS = {"processor": PROCESS_REQUESTS, "maintenance": MAINTENANCE_REQUESTS}
_RESULT_TOPICS = {"processor": PROCESS_RESULTS, "maintenance": MAINTENANCE_RESULTS}


class RequestTimeoutError(TrendStreamError):
    """No final status arrived for a request within the time asked for."""


class RequestFailedError(TrendStreamError):
    """The request ended in FAILURE or REVOKED; `status` holds the details."""

    def __init__(self, status: RequestStatus) -> None:
        super().__init__(f"request {status.request_id} {status.state.value}: {status.error}")
        self.status = status


@dataclass
class _Producers:
    """The producers started in one event loop, by (bootstrap servers, largest message)."""

    started: dict[tuple[str, int], AIOKafkaProducer] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_producers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Producers] = (
    weakref.WeakKeyDictionary()
)


async def _producer(settings: Settings) -> AIOKafkaProducer:
    """The process' producer for these servers, started on first use and kept until `close`."""
    producers = _producers.setdefault(asyncio.get_running_loop(), _Producers())
    key = (settings.kafka_bootstrap_servers, settings.dead_letter_max_bytes)
    async with producers.lock:
        producer = producers.started.get(key)
        if producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=settings.bootstrap_list,
                acks="all",
                max_request_size=settings.dead_letter_max_bytes,
            )
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            producers.started[key] = producer
    return producer


async def send(settings: Settings, spec: TopicSpec, key: str, value: bytes) -> None:
    """Produce one message and wait for the broker's acknowledgement (every replica).

    Every send of a process goes through one long-lived producer (per event loop and
    servers), started by the first send and stopped by `close()`.
    """
    producer = await _producer(settings)
    await producer.send_and_wait(spec.full_name(settings), value, key=key.encode())


async def close() -> None:
    """Stop the producer this event loop's sends started: a worker when it stops, trendctl
    when its command ends, a program once it is done sending (a later send starts another)."""
    producers = _producers.pop(asyncio.get_running_loop(), None)
    if producers is None:
        return
    async with producers.lock:
        for producer in producers.started.values():
            await producer.stop()


def request_topic(request: CollectRequest | JobRequest) -> TopicSpec:
    """Where a request goes: a collect request to its lane's topic, a job to its service's."""
    if isinstance(request, CollectRequest):
        return COLLECT_REQUESTS_PRIORITY if request.lane == "priority" else COLLECT_REQUESTS
    return _JOB_TOPICS[request.service]


def results_topic(request: CollectRequest | JobRequest) -> TopicSpec:
    """Where a request's statuses go: its service's results topic."""
    if isinstance(request, CollectRequest):
        return COLLECT_RESULTS
    return _RESULT_TOPICS[request.service]


def _name(request: CollectRequest | JobRequest) -> str:
    """What a status names: the plugin or group, or the job."""
    return request.plugin if isinstance(request, CollectRequest) else request.job


async def submit(
    settings: Settings,
    states: RequestStates,
    request: CollectRequest | JobRequest,
    ready: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Record the request PENDING, then produce it to its topic (`request_topic`). A request
    refused on the way ends FAILURE at once, saying why, so none stays PENDING (or unknown) that
    no worker will ever see: when `ready` raises (asked first: a server the request's worker
    needs is away; nothing is stored or sent), when Redis refuses PENDING, or when the send
    fails. The FAILURE goes to the request's results topic, where the history lives (Redis's
    cache reads it back once Redis is there again), and to Redis: to each but the one that
    failed.

    PENDING is stored before the send (never after), so it cannot overwrite a state a worker
    reported already. Raises what failed; RequestTooLargeError, before anything is stored, for
    a request over MAX_REQUEST_BYTES.
    """
    payload = _payload(request, settings)
    pending = RequestStatus(
        request_id=request.request_id, state=RequestState.PENDING, plugin=_name(request)
    )
    spec = request_topic(request)
    try:
        if ready is not None:
            await ready()
        await states.save(pending)
        await send(settings, spec, request.request_id, payload)
    except BaseException as exc:
        await _refused(settings, states, request, spec, exc)
        raise


async def _refused(
    settings: Settings,
    states: RequestStates,
    request: CollectRequest | JobRequest,
    spec: TopicSpec,
    exc: BaseException,
) -> None:
    """Record the FAILURE of a request that was not sent: on its results topic unless Kafka
    failed, in Redis unless Redis failed (a store that fails too is logged)."""
    failed = RequestStatus(
        request_id=request.request_id,
        state=RequestState.FAILURE,
        plugin=_name(request),
        error=f"the request could not be sent to {spec.name}: {type(exc).__name__}: {exc}",
        error_type=type(exc).__name__,
    )
    stores: list[Callable[[], Awaitable[None]]] = []
    if not isinstance(exc, KafkaError):
        topic = results_topic(request)
        stores.append(partial(send, settings, topic, request.request_id, failed.dumps()))
    if not isinstance(exc, RedisError):
        stores.append(partial(states.save, failed))
    for store in stores:
        try:
            await asyncio.shield(store())
        except Exception:
            log.exception(
                "request not sent, and its FAILURE not stored everywhere",
                extra={"request_id": request.request_id},
            )


async def revoke(
    settings: Settings, states: RequestStates, request_id: str, issued_by: str
) -> None:
    """Revoke a request: stored in Redis at once (so it holds while no worker runs, and across
    restarts), then announced on `control` for the record and the workers."""
    await states.revoke(request_id)
    command = ControlCommand(command="revoke", request_id=request_id, issued_by=issued_by)
    await send(settings, CONTROL, request_id, command.dumps())


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
        await revoke(self.settings, self._states, self.request_id, issued_by)

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
    outside the request id rule or a malformed request, RequestTooLargeError over
    MAX_REQUEST_BYTES, before anything is sent.
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
    payload = _payload(request, settings)
    await send(settings, request_topic(request), request.request_id, payload)
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
    """Produce a ProcessRequest (a processor job of the catalog) and return its handle."""
    request = ProcessRequest(
        job=job, options=dict(options or {}), requested_by=requested_by, request_id=request_id or ""
    )
    return await _request_job(request, timeout, settings)


async def request_maintenance(
    job: str,
    *,
    options: Mapping[str, Any] | None = None,
    requested_by: str = "client",
    request_id: str | None = None,
    timeout: float = 600.0,
    settings: Settings | None = None,
) -> RequestHandle:
    """Produce a MaintenanceRequest (a maintenance job of the catalog) and return its handle."""
    request = MaintenanceRequest(
        job=job, options=dict(options or {}), requested_by=requested_by, request_id=request_id or ""
    )
    return await _request_job(request, timeout, settings)


async def _request_job(
    request: JobRequest, timeout: float, settings: Settings | None
) -> RequestHandle:
    settings = settings or get_settings()
    request.check()
    payload = _payload(request, settings)
    await send(settings, request_topic(request), request.request_id, payload)
    return RequestHandle(request.request_id, settings, timeout)


def _payload(request: CollectRequest | JobRequest, settings: Settings) -> bytes:
    """The request as its message; RequestTooLargeError over MAX_REQUEST_BYTES, which every
    worker refuses, before anything is sent or recorded."""
    payload: bytes = request.dumps()
    check_size(payload, settings.max_request_bytes)
    return payload
