"""Jobs on request (a JobRequest): parsed, run by name, and reported like collect requests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from streams.exceptions import RecordValidationError
from streams.records import JobRequest, RequestState, RequestStatus
from streams.reporting import StatusReporter, StatusSink, worker_name
from streams.state import RequestStates

__all__ = ["JobHandler", "JobRunner"]

log = logging.getLogger(__name__)
Q = TypeVar("Q", bound=JobRequest)
JobHandler = Callable[[Q], Awaitable[dict[str, Any]]]
"""Runs one job and returns its result; raises to fail it."""


class JobRunner(Generic[Q]):
    """RECEIVED, (REVOKED), STARTED, then SUCCESS or FAILURE for each request of one kind."""

    def __init__(
        self,
        kind: type[Q],
        handlers: Mapping[str, JobHandler[Q]],
        statuses: StatusSink,
        states: RequestStates | None = None,
    ) -> None:
        self.kind = kind
        self.handlers = handlers
        self.statuses = statuses
        self.states = states
        self.worker = worker_name()

    async def handle(
        self, payload: bytes | None, fallback_id: str, key: str | None = None
    ) -> RequestStatus:
        """Answer one message of a requests topic; never raises for a bad message."""
        try:
            request = self.kind.parse(payload, {"request_id": key} if key else None)
        except RecordValidationError as exc:
            report = StatusReporter(self.statuses, fallback_id, "", worker=self.worker)
            return await report(RequestState.FAILURE, error=exc)
        return await self.run(request)

    async def run(self, request: Q) -> RequestStatus:
        """Run a parsed job to its final state."""
        report = StatusReporter(self.statuses, request.request_id, request.job, worker=self.worker)
        await report(RequestState.RECEIVED)
        if self.states is not None and await self.states.is_revoked(request.request_id):
            return await report(RequestState.REVOKED, error="revoked before it ran")
        handler = self.handlers.get(request.job)
        if handler is None:
            return await report(RequestState.FAILURE, error=f"job {request.job!r} is not served")
        await report(RequestState.STARTED)
        try:
            result = await handler(request)
        except Exception as exc:
            log.exception("job failed", extra={"request_id": request.request_id})
            return await report(RequestState.FAILURE, error=exc)
        return await report(RequestState.SUCCESS, result=result)
