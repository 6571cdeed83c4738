"""Jobs on request (a JobRequest): parsed, run by name, and reported like collect requests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from streams.decoding import fallback_request_id
from streams.delivery import Delivery, Failure
from streams.exceptions import RecordValidationError
from streams.limits import RevokedError, TimeLimits, run_limited
from streams.records import JobRequest, RequestState, RequestStatus
from streams.reporting import RetryNote, StatusReporter, StatusSink, worker_name
from streams.retry import Decision, Rejected, RetryPolicy, is_outage
from streams.state import RequestStates

__all__ = ["JobHandler", "JobRunner"]

log = logging.getLogger(__name__)
Q = TypeVar("Q", bound=JobRequest)
JobHandler = Callable[[Q], Awaitable[dict[str, Any]]]
"""Runs one job and returns its result; raises to fail it."""


class JobRunner(Generic[Q]):
    """RECEIVED, (REVOKED), STARTED, then SUCCESS, RETRY or FAILURE for each request of one kind.

    A failed job is RETRY (with its due time) while `policy` allows, then FAILURE; an outage
    (a server away) is raised, for the guard to wait it out.
    """

    def __init__(
        self,
        kind: type[Q],
        handlers: Mapping[str, JobHandler[Q]],
        statuses: StatusSink,
        states: RequestStates | None = None,
        *,
        policy: RetryPolicy | None = None,
        limits: TimeLimits | None = None,
    ) -> None:
        self.policy = policy
        self.limits = limits
        """Soft and hard time limits of each job (None: unlimited)."""
        self.kind = kind
        self.handlers = handlers
        self.statuses = statuses
        self.states = states
        self.worker = worker_name()

    async def handle(
        self, payload: bytes | None, fallback_id: str, key: str | None = None, attempt: int = 0
    ) -> RequestStatus:
        """Answer one message of a requests topic; never raises for a bad message.

        `attempt`: failures behind this message (it is a retry when > 0).
        """
        try:
            request = self.kind.parse(payload, {"request_id": key} if key else None)
        except RecordValidationError as exc:
            report = StatusReporter(self.statuses, fallback_id, "", worker=self.worker)
            return await report(RequestState.FAILURE, error=exc)
        return await self.run(request, attempt)

    async def run(self, request: Q, attempt: int = 0) -> RequestStatus:
        """Run a parsed job to its final state (or RETRY)."""
        report = StatusReporter(self.statuses, request.request_id, request.job, worker=self.worker)
        await report(RequestState.RECEIVED, retry=RetryNote(attempt) if attempt else None)
        if self.states is not None and await self.states.is_revoked(request.request_id):
            return await report(RequestState.REVOKED, error="revoked before it ran")
        handler = self.handlers.get(request.job)
        if handler is None:
            return await report(RequestState.FAILURE, error=f"job {request.job!r} is not served")
        await report(RequestState.STARTED)
        try:
            result = await self._limited(handler(request), request.request_id)
        except RevokedError as exc:
            return await report(RequestState.REVOKED, error=exc)
        except Exception as exc:
            if is_outage(exc):
                raise
            log.exception("job failed", extra={"request_id": request.request_id})
            return await self._failed(report, exc, attempt + 1)
        return await report(RequestState.SUCCESS, result=result)

    async def _limited(self, work: Awaitable[dict[str, Any]], request_id: str) -> dict[str, Any]:
        if self.limits is None:
            return await work
        states = self.states
        revoked = (lambda: states.is_revoked(request_id)) if states else None
        return await run_limited(work, self.limits, revoked)

    async def handle_deliveries(self, deliveries: list[Delivery]) -> None:
        """A guard handler: run each request; a RETRY or FAILURE routes its message."""
        for delivery in deliveries:
            status = await self.handle(
                delivery.value, fallback_request_id(delivery), delivery.key_text, delivery.attempt
            )
            rejected = Rejected.of_status(status)
            if rejected is not None:
                raise rejected

    async def _failed(self, report: StatusReporter, exc: Exception, attempt: int) -> RequestStatus:
        decision = self.policy.decide(exc, attempt) if self.policy else Decision("dead", attempt)
        note = RetryNote(attempt, decision.due or None, Failure.of(exc).traceback)
        state = RequestState.RETRY if decision.action == "retry" else RequestState.FAILURE
        return await report(state, error=exc, retry=note)
