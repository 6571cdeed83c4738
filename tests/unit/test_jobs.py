"""The job runner: states reported for good, unknown, failing, malformed and revoked jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import Field

from streams import catalog
from streams.catalog import CleanupOptions, JobOptions
from streams.config import load_settings
from streams.messages.records import ProcessRequest, RequestState
from streams.reliability.limits import TimeLimits
from streams.reliability.retry import Rejected, RetryPolicy
from streams.requests.jobs import JobOptionsError, JobRunner, job_handlers
from tests.support.fakes import Revocations, Statuses


async def _sweep(request: ProcessRequest, options: object) -> dict[str, Any]:
    assert isinstance(options, catalog.SweepOptions)
    return {"limit": options.limit}


async def _broken(request: ProcessRequest, options: object) -> dict[str, Any]:
    raise RuntimeError("database unreachable")


async def test_a_job_runs_to_success_with_its_result() -> None:
    statuses = Statuses()
    runner = JobRunner(ProcessRequest, {"sweep": _sweep}, statuses, Revocations())
    final = await runner.handle(b'{"job": "sweep", "options": {"limit": 5}}', "k", key="job-1")
    assert [s.state for s in statuses.seen] == [
        RequestState.RECEIVED,
        RequestState.STARTED,
        RequestState.SUCCESS,
    ]
    assert (final.request_id, final.plugin, final.result) == ("job-1", "sweep", {"limit": 5})


async def test_options_left_out_take_their_default_from_the_settings() -> None:
    settings = load_settings(sweep_limit=12, cleanup_days=9)
    statuses = Statuses()
    runner = JobRunner(
        ProcessRequest, {"sweep": _sweep}, statuses, Revocations(), settings=settings
    )
    assert (await runner.handle(b'{"job": "sweep"}', "k")).result == {"limit": 12}
    given = await runner.handle(b'{"job": "sweep", "options": {"limit": 3}}', "k")
    assert given.result == {"limit": 3}
    assert CleanupOptions.of({}, settings).days == 9
    assert CleanupOptions.of({"days": 2}, settings).days == 2


def test_a_scheduled_run_sends_the_defaults_its_options_declare() -> None:
    by_name = {entry.name: entry for entry in catalog.schedules()}
    assert (
        by_name["sweep"].cron.options == catalog.SweepOptions.defaults == {"limit": "SWEEP_LIMIT"}
    )
    assert by_name["cleanup"].cron.options == {"days": "CLEANUP_DAYS"}


async def test_failures_are_reported_not_raised() -> None:
    statuses = Statuses()
    runner = JobRunner(ProcessRequest, {"sweep": _broken}, statuses, Revocations())
    failed = await runner.handle(b'{"job": "sweep"}', "k")
    unserved = await runner.handle(b'{"job": "test_pipeline"}', "k")
    bad = await runner.handle(b'{"job": "dance"}', "invalid-1")
    assert (failed.state, failed.error) == (RequestState.FAILURE, "database unreachable")
    assert unserved.error == "job 'test_pipeline' is not served"
    assert bad.request_id == "invalid-1"
    assert (
        bad.error is not None
        and "'dance' is not one of cleanup_data, generate_embeddings" in bad.error
    )


async def test_a_failing_job_is_retried_by_its_policy_then_fails() -> None:
    statuses = Statuses()
    policy = RetryPolicy(max_retries=2, backoff_s=4, jitter=False)
    runner = JobRunner(ProcessRequest, {"sweep": _broken}, statuses, Revocations(), policy=policy)
    payload = b'{"job": "sweep", "request_id": "j-1"}'
    finals = [await runner.handle(payload, "k", attempt=attempt) for attempt in (0, 1, 2)]
    assert [f.state for f in finals] == [RequestState.RETRY] * 2 + [RequestState.FAILURE]
    assert [f.retries for f in finals] == [1, 2, 3]
    first = finals[0]
    assert first.eta is not None and first.updated_at is not None
    assert round((first.eta - first.updated_at).total_seconds()) == 4
    assert first.traceback is not None and "RuntimeError" in first.traceback


async def test_an_outage_is_raised_for_the_guard_to_wait_out() -> None:
    async def unreachable(request: ProcessRequest, options: object) -> dict[str, Any]:
        raise ConnectionRefusedError(111, "refused")

    runner = JobRunner(ProcessRequest, {"sweep": unreachable}, Statuses(), Revocations())
    with pytest.raises(ConnectionRefusedError):
        await runner.handle(b'{"job": "sweep"}', "k")


async def test_a_job_past_its_soft_limit_is_cancelled_and_retried() -> None:
    async def slow(request: ProcessRequest, options: object) -> dict[str, Any]:
        await asyncio.sleep(60)
        return {}

    policy = RetryPolicy(max_retries=1, jitter=False)
    runner = JobRunner(
        ProcessRequest,
        {"sweep": slow},
        Statuses(),
        Revocations(),
        policy=policy,
        limits=TimeLimits(0.1, 1),
    )
    status = await runner.handle(b'{"job": "sweep"}', "k")
    assert (status.state, status.error_type) == (RequestState.RETRY, "SoftTimeLimitExceeded")


class SweepOptions(JobOptions):
    """A declared option, for the tests."""

    limit: int | None = Field(None, ge=1)


async def test_declared_options_are_checked_before_the_job_runs_and_never_retried() -> None:
    statuses = Statuses()
    ran: list[ProcessRequest] = []

    async def sweep(request: ProcessRequest, options: object) -> dict[str, Any]:
        ran.append(request)
        return {}

    policy = RetryPolicy(max_retries=2, backoff_s=4, jitter=False)
    runner = JobRunner(
        ProcessRequest,
        {"sweep": sweep},
        statuses,
        Revocations(),
        policy=policy,
        options={"sweep": SweepOptions},
    )
    cases = {
        b'{"job": "sweep", "options": {"limt": 5}}': "options.limt: unknown option",
        b'{"job": "sweep", "options": {"limit": "5"}}': "options.limit: Input should be a valid",
        b'{"job": "sweep", "options": {"limit": 0}}': "options.limit: Input should be greater",
    }
    for payload, message in cases.items():
        final = await runner.handle(payload, "k")
        assert (final.state, final.error_type) == (RequestState.FAILURE, "JobOptionsError")
        assert final.error is not None and message in final.error
        assert final.error.endswith("(options: limit)")
        rejected = Rejected.of_status(final)
        assert rejected is not None and rejected.decision.action == "dead"
    assert ran == []
    good = await runner.handle(b'{"job": "sweep", "options": {"limit": 5}}', "k")
    assert good.state is RequestState.SUCCESS and len(ran) == 1


async def test_a_handler_refusing_its_input_is_not_retried() -> None:
    async def picky(request: ProcessRequest, options: object) -> dict[str, Any]:
        raise JobOptionsError("test_pipeline needs option 'items' or 'path'")

    policy = RetryPolicy(max_retries=2, backoff_s=4, jitter=False)
    runner = JobRunner(
        ProcessRequest,
        {"test_pipeline": picky},
        Statuses(),
        Revocations(),
        policy=policy,
        options={},
    )
    final = await runner.handle(b'{"job": "test_pipeline"}', "k")
    assert (final.state, final.retries) == (RequestState.FAILURE, 1)


async def test_a_request_over_max_request_bytes_is_refused() -> None:
    statuses = Statuses()
    runner = JobRunner(ProcessRequest, {"sweep": _sweep}, statuses, Revocations(), max_bytes=1024)
    padding = "x" * 2000
    payload = f'{{"job": "sweep", "requested_by": "{padding[:100]}", "options": {{}}}}'.encode()
    assert (await runner.handle(payload, "k")).state is RequestState.SUCCESS
    big = f'{{"job": "sweep", "options": {{"note": "{padding}"}}}}'.encode()
    final = await runner.handle(big, "big-1", key="big-1")
    assert (final.state, final.error_type) == (RequestState.FAILURE, "RequestTooLargeError")
    assert final.error == f"request payload is {len(big):,} bytes; MAX_REQUEST_BYTES is 1,024"


async def test_a_job_revoked_before_it_ran_never_starts() -> None:
    statuses = Statuses()
    runner = JobRunner(ProcessRequest, {"sweep": _sweep}, statuses, Revocations("gone-1"))
    final = await runner.handle(b'{"job": "sweep", "request_id": "gone-1"}', "k")
    assert (final.state, final.error) == (
        RequestState.REVOKED,
        "request gone-1 was revoked before it ran",
    )
    assert [s.state for s in statuses.seen] == [RequestState.RECEIVED, RequestState.REVOKED]


async def test_a_job_revoked_while_it_runs_is_stopped() -> None:
    revocations = Revocations()

    async def endless(request: ProcessRequest, options: object) -> dict[str, Any]:
        revocations.revoked.add(request.request_id)  # revoked once it runs
        await asyncio.Event().wait()
        return {}

    runner = JobRunner(
        ProcessRequest,
        {"sweep": endless},
        Statuses(),
        revocations,
        limits=TimeLimits(60, 60),
        revoke_check_s=0.05,
    )
    final = await runner.handle(b'{"job": "sweep"}', "k")
    assert (final.state, final.error) == (RequestState.REVOKED, "revoked while running")


def test_handlers_are_the_catalog_jobs_of_their_service() -> None:
    class Sweeper:
        async def sweep(self, request: ProcessRequest, options: object) -> dict[str, Any]:
            return {}

    with pytest.raises(TypeError, match="processor job 'generate_embeddings' has no handler"):
        job_handlers(ProcessRequest, Sweeper())

    class Everything(Sweeper):
        generate_embeddings = test_pipeline = cleanup_data = rebuild_topics = Sweeper.sweep

    served = job_handlers(ProcessRequest, Everything())
    assert set(served) == catalog.job_names("processor")
