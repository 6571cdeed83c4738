"""Jobs on request (a JobRequest): parsed, run by name, and reported like collect requests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from streams.config import get_settings
from streams.decoding import fallback_request_id, parse_request
from streams.delivery import Delivery, Failure
from streams.exceptions import RecordValidationError
from streams.limits import RevokedError, TimeLimits, run_limited
from streams.records import JobRequest, RequestState, RequestStatus
from streams.reporting import RetryNote, StatusReporter, StatusSink, worker_name
from streams.retry import Decision, Rejected, RetryPolicy, is_outage
from streams.state import RequestStates

__all__ = [
    "JobHandler",
    "JobOptions",
    "JobOptionsError",
    "JobRunner",
    "NoOptions",
    "OptionSchemas",
    "check_job_options",
]

log = logging.getLogger(__name__)
Q = TypeVar("Q", bound=JobRequest)
JobHandler = Callable[[Q], Awaitable[dict[str, Any]]]
"""Runs one job and returns its result; raises to fail it."""


class JobOptionsError(RecordValidationError):
    """A job's options are wrong: bad input, dead-lettered at once (no retry can fix it).

    Raise it (or a subclass) from a handler for a check a schema cannot express.
    """


class JobOptions(BaseModel):
    """Base of the options a job declares: unknown options are refused and types are strict
    (`"5"` is not a number, `"yes"` not a boolean). Subclass it once per job, e.g.

        class CleanupOptions(JobOptions):
            days: int | None = Field(None, ge=1)
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoOptions(JobOptions):
    """The options of a job that takes none."""


OptionSchemas = Mapping[str, type[JobOptions]]
"""The declared options of each job, by job name."""


def check_job_options(request: JobRequest, schemas: OptionSchemas) -> JobOptions | None:
    """The request's options checked against its job's schema (None: the job declared none,
    its handler checks them); JobOptionsError naming each bad option."""
    schema = schemas.get(request.job)
    if schema is None:
        return None
    try:
        return schema.model_validate(request.options)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "options"
            message = "unknown option" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"options.{where}: {message}" if error["loc"] else message)
        known = ", ".join(schema.model_fields) or "none"
        raise JobOptionsError(
            f"invalid options for job {request.job!r}: {'; '.join(problems)} (options: {known})"
        ) from None


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
        options: OptionSchemas | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.options: OptionSchemas = options or {}
        """The declared options of each job (a job not named here checks its own)."""
        self.max_bytes = max_bytes
        """Largest request accepted; None: MAX_REQUEST_BYTES of the worker's settings."""
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

        `attempt`: failures behind this message (it is a retry when > 0). A message over
        `max_bytes` or not a valid request is answered FAILURE (and dead-lettered at once).
        """
        limit = self.max_bytes if self.max_bytes is not None else get_settings().max_request_bytes
        try:
            request = parse_request(self.kind, payload, limit, key)
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
        try:
            check_job_options(request, self.options)
        except JobOptionsError as exc:
            return await report(RequestState.FAILURE, error=exc, retry=RetryNote(attempt + 1))
        await report(RequestState.STARTED)
        try:
            result = await self._limited(handler(request), request.request_id)
        except RevokedError as exc:
            return await report(RequestState.REVOKED, error=exc)
        except Exception as exc:
            if is_outage(exc):
                raise
            if not isinstance(exc, RecordValidationError):
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
