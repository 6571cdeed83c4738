"""One request lifecycle for every service (states, status publishing, retries, time limits,
revocation), and the jobs on request that run through it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar, cast

import faust
from faust.types import TopicT
from pydantic import ValidationError

from streams import catalog
from streams.catalog import JobOptions
from streams.config import Settings, get_settings
from streams.exceptions import RecordValidationError
from streams.messages.delivery import Delivery, Failure
from streams.messages.records import CollectRequest, JobRequest, RequestState, RequestStatus
from streams.messages.topics import TopicSpec
from streams.reliability.decoding import fallback_request_id, parse_request
from streams.reliability.limits import RevokedError, TimeLimits, run_limited
from streams.reliability.retry import Decision, Rejected, RetryPolicy, is_outage
from streams.requests.reporting import RetryNote, StatusReporter, StatusSink, worker_name
from streams.requests.schedules import JobSend, Schedule, job_schedules
from streams.requests.state import RequestStates

__all__ = [
    "NO_RETRIES",
    "JobHandler",
    "JobNotServedError",
    "JobOptionsError",
    "JobRunner",
    "OptionSchemas",
    "Outcome",
    "Prepare",
    "RequestLifecycle",
    "Revocations",
    "Settled",
    "Task",
    "Wait",
    "check_job_options",
    "close_on_shutdown",
    "job_handlers",
    "scheduled_jobs",
    "status_publisher",
]

log = logging.getLogger(__name__)
Q = TypeVar("Q", bound=CollectRequest | JobRequest)
J = TypeVar("J", bound=JobRequest)
NO_RETRIES = RetryPolicy(max_retries=0)
"""A failure is final at once."""
JobHandler = Callable[[J, Any], Awaitable[dict[str, Any]]]
"""Runs one job, given the request and its options as the runner checked them (the job's
JobOptions, its defaults filled from the settings; None for a job that declared none), and
returns its result; raises to fail it."""
OptionSchemas = Mapping[str, type[JobOptions]]
"""The declared options of each job, by job name."""


class JobOptionsError(RecordValidationError):
    """A job's options are wrong: bad input, dead-lettered at once (no retry can fix it).

    Raise it (or a subclass) from a handler for a check a schema cannot express.
    """


class JobNotServedError(RecordValidationError):
    """A worker was asked for a job it does not serve (never retried)."""


class Revocations(Protocol):
    """Which requests were revoked: the workers' RequestStates (an in-memory set in tests)."""

    async def is_revoked(self, request_id: str) -> bool:
        """True once the request was revoked."""


Wait = Callable[[], Awaitable[dict[str, Any] | None]]
"""Lets others end a waiting request; a result when it can end at once (SUCCESS); RevokedError
when it was revoked meanwhile."""


@dataclass(frozen=True)
class Outcome:
    """How a request's work ended: its result, for SUCCESS; or `waiting`: the request stays
    STARTED with this result until others end it (a group's children, the processor)."""

    result: dict[str, Any]
    waiting: bool = False
    wait: Wait | None = None
    """Called once the waiting STARTED is published, never before, so that no final state
    others publish can come before it."""
    awaits: str = "others"
    """What a waiting request waits for, as a revocation meanwhile says ("the processor")."""


@dataclass(frozen=True)
class Task:
    """A checked request's work, as its service gives it to the lifecycle."""

    work: Callable[[StatusReporter], Awaitable[Outcome]]
    """The work itself, given the request's reporter (its timings)."""
    limits: TimeLimits | None = None
    """Soft and hard limits of the work, revocation checked while it runs; None: unlimited."""
    announce: bool = True
    """Publish STARTED before the work; False: work that only hands requests on (a group's
    fan-out), whose waiting outcome is its STARTED."""


Prepare = Callable[[Q], Awaitable[Task]]
"""Checks a request (RecordValidationError for bad input) and gives the work it asks for."""
Settled = Callable[[RequestStatus], Awaitable[None]]
"""What a service does once a request reached a final state (e.g. record a plugin run)."""


def _described(request: CollectRequest | JobRequest) -> tuple[str, str | None]:
    if isinstance(request, CollectRequest):
        return request.plugin, request.parent_id
    return request.job, None


async def _nothing(status: RequestStatus) -> None:
    return None


class RequestLifecycle(Generic[Q]):
    """Every request of one kind, from its message to its final state.

    RECEIVED, then REVOKED if it was revoked before it ran; the service's `prepare` checks it
    and gives its work; STARTED; then SUCCESS with the work's result (or STARTED again while
    it waits for others to end it: `finish`, or `revoke_waiting`). A message over `max_bytes`
    or not a valid request, and bad input (RecordValidationError), are FAILURE at once; any
    other failure is RETRY (with its due time) while `policy` allows, then FAILURE; a
    revocation while the work runs under limits stops it (REVOKED, checked every
    `revoke_check_s`), and one while it waits ends it REVOKED, never SUCCESS; an outage (a
    server away) is raised, for the guard to wait it out. Every status goes to `statuses`;
    `settled` hears each final one.
    """

    def __init__(
        self,
        kind: type[Q],
        prepare: Prepare[Q],
        statuses: StatusSink,
        revocations: Revocations,
        *,
        max_bytes: int,
        policy: RetryPolicy = NO_RETRIES,
        revoke_check_s: float = 1.0,
        settled: Settled = _nothing,
        expected: tuple[type[Exception], ...] = (RecordValidationError,),
    ) -> None:
        self.kind = kind
        self.prepare = prepare
        self.statuses = statuses
        self.revocations = revocations
        self.max_bytes = max_bytes
        """Largest request accepted (MAX_REQUEST_BYTES)."""
        self.policy = policy
        self.revoke_check_s = revoke_check_s
        self.settled = settled
        self.expected = expected
        """Failures logged without their traceback (bad input, a source that failed)."""
        self.worker = worker_name()

    def reporter(
        self,
        request_id: str,
        name: str,
        *,
        parent_id: str | None = None,
        timings: dict[str, float] | None = None,
    ) -> StatusReporter:
        """The reporter of one request's statuses (`name`: its plugin, group or job)."""
        return StatusReporter(
            self.statuses,
            request_id,
            name,
            parent_id=parent_id,
            timings=timings,
            worker=self.worker,
        )

    async def handle(
        self, payload: bytes | None, fallback_id: str, key: str | None = None, attempt: int = 0
    ) -> RequestStatus:
        """Answer one message of a requests topic; never raises for a bad message.

        A request without a request_id takes the message key; a bad one is answered under
        `fallback_id`. `attempt`: failures behind this message (it is a retry when > 0).
        """
        try:
            request = parse_request(self.kind, payload, self.max_bytes, key)
        except RecordValidationError as exc:
            report = self.reporter(fallback_id, "")
            return await report(RequestState.FAILURE, error=exc, retry=RetryNote(attempt + 1))
        return await self.run(request, attempt)

    async def handle_deliveries(self, deliveries: list[Delivery]) -> None:
        """A guard handler: run each request; a RETRY or FAILURE routes its message."""
        for delivery in deliveries:
            status = await self.handle(
                delivery.value, fallback_request_id(delivery), delivery.key_text, delivery.attempt
            )
            rejected = Rejected.of_status(status)
            if rejected is not None:
                raise rejected

    async def run(self, request: Q, attempt: int = 0) -> RequestStatus:
        """Run a parsed request to its final state, to RETRY, or to STARTED while it waits."""
        name, parent_id = _described(request)
        report = self.reporter(request.request_id, name, parent_id=parent_id)
        await report(RequestState.RECEIVED, retry=RetryNote(attempt) if attempt else None)
        try:
            status = await self._run(request, report)
        except RevokedError as exc:
            status = await report(RequestState.REVOKED, error=exc)
        except Exception as exc:
            if is_outage(exc):
                raise
            status = await self._failed(report, exc, attempt + 1)
        if status.state.is_final:
            await self.settled(status)
        return status

    async def finish(
        self, report: StatusReporter, result: dict[str, Any], awaits: str = "others"
    ) -> RequestStatus:
        """Publish the end of a request that was waiting (STARTED) for `awaits` to end it:
        SUCCESS with `result`, or REVOKED (with it) if it was revoked meanwhile."""
        status = await self._ended(report, result, awaits)
        await self.settled(status)
        return status

    async def revoke_waiting(
        self, report: StatusReporter, result: dict[str, Any], awaits: str = "others"
    ) -> RequestStatus:
        """Publish REVOKED (with `result`) for a request revoked while it waited (STARTED) for
        `awaits` to end it."""
        status = await report(RequestState.REVOKED, result=result, error=_revoked(report, awaits))
        await self.settled(status)
        return status

    async def _ended(
        self, report: StatusReporter, result: dict[str, Any], awaits: str
    ) -> RequestStatus:
        """SUCCESS, unless the request was revoked while it waited (REVOKED)."""
        if await self.revocations.is_revoked(report.request_id):
            error = _revoked(report, awaits)
            return await report(RequestState.REVOKED, result=result, error=error)
        return await report(RequestState.SUCCESS, result=result)

    async def _run(self, request: Q, report: StatusReporter) -> RequestStatus:
        if await self.revocations.is_revoked(request.request_id):
            raise RevokedError(f"request {request.request_id} was revoked before it ran")
        task = await self.prepare(request)
        if task.announce:
            await report(RequestState.STARTED)
        work = task.work(report)
        if task.limits is not None:
            revoked = partial(self.revocations.is_revoked, request.request_id)
            work = run_limited(work, task.limits, revoked, self.revoke_check_s)
        outcome = await work
        if not outcome.waiting:
            return await report(RequestState.SUCCESS, result=outcome.result)
        status = await report(RequestState.STARTED, result=outcome.result)
        ended = await outcome.wait() if outcome.wait is not None else None
        return status if ended is None else await self._ended(report, ended, outcome.awaits)

    async def _failed(self, report: StatusReporter, exc: Exception, attempt: int) -> RequestStatus:
        """RETRY with the next due time while the policy allows, else FAILURE."""
        if not isinstance(exc, self.expected):
            log.exception("request failed", extra={"request_id": report.request_id})
        decision: Decision = self.policy.decide(exc, attempt)
        note = RetryNote(attempt, decision.due or None, Failure.of(exc).traceback)
        state = RequestState.RETRY if decision.action == "retry" else RequestState.FAILURE
        return await report(state, error=exc, retry=note)


def _revoked(report: StatusReporter, awaits: str) -> RevokedError:
    return RevokedError(f"request {report.request_id} was revoked while waiting for {awaits}")


def check_job_options(
    request: JobRequest, schemas: OptionSchemas, settings: Settings
) -> JobOptions | None:
    """The request's options checked against its job's schema, those it leaves out taken from
    `settings` (None: the job declared none, its handler checks them); JobOptionsError naming
    each bad option."""
    schema = schemas.get(request.job)
    if schema is None:
        return None
    try:
        return schema.of(request.options, settings)
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


class JobRunner(RequestLifecycle[J]):
    """The jobs on request of one service, through the request lifecycle.

    A job's options are checked once, against its declared schema (the catalog's, unless
    `options` names others), with the defaults `settings` give, before it starts; its handler
    gets them with the request and gives the result.
    """

    def __init__(
        self,
        kind: type[J],
        handlers: Mapping[str, JobHandler[J]],
        statuses: StatusSink,
        revocations: Revocations,
        *,
        policy: RetryPolicy = NO_RETRIES,
        limits: TimeLimits | None = None,
        options: OptionSchemas | None = None,
        max_bytes: int | None = None,
        revoke_check_s: float | None = None,
        settings: Settings | None = None,
    ) -> None:
        """`max_bytes`, `revoke_check_s` and `settings` (the options' defaults): None takes
        the worker's settings."""
        super().__init__(
            kind,
            self._prepare,
            statuses,
            revocations,
            max_bytes=max_bytes if max_bytes is not None else get_settings().max_request_bytes,
            policy=policy,
            revoke_check_s=(
                revoke_check_s if revoke_check_s is not None else get_settings().revoke_check_s
            ),
        )
        self.handlers = handlers
        self.limits = limits
        """Soft and hard time limits of each job (None: unlimited)."""
        self.options: OptionSchemas = (
            catalog.option_schemas(kind.service) if options is None else options
        )
        """The declared options of each job (a job not named here checks its own)."""
        self.settings = settings if settings is not None else get_settings()

    async def _prepare(self, request: J) -> Task:
        handler = self.handlers.get(request.job)
        if handler is None:
            raise JobNotServedError(f"job {request.job!r} is not served")
        options = check_job_options(request, self.options, self.settings)
        return Task(partial(_job, handler, request, options), self.limits)


async def _job(
    handler: JobHandler[J], request: J, options: JobOptions | None, report: StatusReporter
) -> Outcome:
    return Outcome(await handler(request, options))


def job_handlers(kind: type[J], implementation: object, *bound: object) -> dict[str, JobHandler[J]]:
    """The handler of each catalog job of `kind`'s service: the attribute of the job's name on
    `implementation` (an object or a module), called with `bound` before the request and its
    options.

    TypeError when a job has none, so a worker missing one does not start.
    """
    found: dict[str, JobHandler[J]] = {}
    for job in catalog.jobs(kind.service):
        function = getattr(implementation, job.name, None)
        if not callable(function):
            raise TypeError(f"{kind.service} job {job.name!r} has no handler")
        found[job.name] = cast(JobHandler[J], partial(function, *bound) if bound else function)
    return found


def scheduled_jobs(settings: Settings, kind: type[JobRequest], send: JobSend) -> list[Schedule]:
    """The catalog's default schedules of `kind`'s service whose cron is not empty: each slot
    sends a request with the options the settings give."""
    wanted = [
        (entry.target, entry.cron.cron(settings), entry.cron.run_options(settings))
        for entry in catalog.schedules(kind.service)
    ]
    return job_schedules(settings, kind, wanted, send)


def status_publisher(topic: TopicT, spec: TopicSpec, states: RequestStates) -> StatusSink:
    """Where a worker's request statuses go: its results topic (`spec`, keyed by request id),
    then the request's state in Redis. A status larger than the topic takes (a dry run's big
    sample) raises MessageTooLargeError, never retried: its request ends FAILURE at once."""

    async def publish(status: RequestStatus) -> None:
        what = f"the {status.state.value} status of request {status.request_id}"
        spec.check_size(status.dumps(), what)
        await topic.send(key=status.request_id, value=status)
        await states.save(status)

    return publish


def close_on_shutdown(app: faust.App, *closers: Callable[[], Awaitable[object]]) -> None:
    """Close each of a worker's resources, in order, before it stops."""

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close_resources(sender: Any, **kwargs: Any) -> None:
        for close in closers:
            await close()
