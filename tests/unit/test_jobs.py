"""The job runner: states reported for good, unknown, failing and malformed jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.jobs import JobRunner
from streams.limits import TimeLimits
from streams.records import ProcessRequest, RequestState, RequestStatus
from streams.retry import RetryPolicy


class Statuses:
    """An in-memory status sink."""

    def __init__(self) -> None:
        self.seen: list[RequestStatus] = []

    async def __call__(self, status: RequestStatus) -> None:
        self.seen.append(status)


async def _sweep(request: ProcessRequest) -> dict[str, Any]:
    return {"limit": request.options.get("limit", 1000)}


async def _broken(request: ProcessRequest) -> dict[str, Any]:
    raise RuntimeError("database unreachable")


async def test_a_job_runs_to_success_with_its_result() -> None:
    statuses = Statuses()
    runner = JobRunner(ProcessRequest, {"sweep": _sweep}, statuses)
    final = await runner.handle(b'{"job": "sweep", "options": {"limit": 5}}', "k", key="job-1")
    assert [s.state for s in statuses.seen] == [
        RequestState.RECEIVED,
        RequestState.STARTED,
        RequestState.SUCCESS,
    ]
    assert (final.request_id, final.plugin, final.result) == ("job-1", "sweep", {"limit": 5})


async def test_failures_are_reported_not_raised() -> None:
    statuses = Statuses()
    runner = JobRunner(ProcessRequest, {"sweep": _broken}, statuses)
    failed = await runner.handle(b'{"job": "sweep"}', "k")
    unserved = await runner.handle(b'{"job": "test_pipeline"}', "k")
    bad = await runner.handle(b'{"job": "dance"}', "invalid-1")
    assert (failed.state, failed.error) == (RequestState.FAILURE, "database unreachable")
    assert unserved.error == "job 'test_pipeline' is not served"
    assert bad.request_id == "invalid-1"
    assert bad.error is not None and "'dance' is not one of generate_embeddings" in bad.error


async def test_a_failing_job_is_retried_by_its_policy_then_fails() -> None:
    statuses = Statuses()
    policy = RetryPolicy(max_retries=2, backoff_s=4, jitter=False)
    runner = JobRunner(ProcessRequest, {"sweep": _broken}, statuses, policy=policy)
    payload = b'{"job": "sweep", "request_id": "j-1"}'
    finals = [await runner.handle(payload, "k", attempt=attempt) for attempt in (0, 1, 2)]
    assert [f.state for f in finals] == [RequestState.RETRY] * 2 + [RequestState.FAILURE]
    assert [f.retries for f in finals] == [1, 2, 3]
    first = finals[0]
    assert first.eta is not None and first.updated_at is not None
    assert round((first.eta - first.updated_at).total_seconds()) == 4
    assert first.traceback is not None and "RuntimeError" in first.traceback


async def test_an_outage_is_raised_for_the_guard_to_wait_out() -> None:
    async def unreachable(request: ProcessRequest) -> dict[str, Any]:
        raise ConnectionRefusedError(111, "refused")

    runner = JobRunner(ProcessRequest, {"sweep": unreachable}, Statuses())
    with pytest.raises(ConnectionRefusedError):
        await runner.handle(b'{"job": "sweep"}', "k")


async def test_a_job_past_its_soft_limit_is_cancelled_and_retried() -> None:
    async def slow(request: ProcessRequest) -> dict[str, Any]:
        await asyncio.sleep(60)
        return {}

    policy = RetryPolicy(max_retries=1, jitter=False)
    runner = JobRunner(
        ProcessRequest, {"sweep": slow}, Statuses(), policy=policy, limits=TimeLimits(0.1, 1)
    )
    status = await runner.handle(b'{"job": "sweep"}', "k")
    assert (status.state, status.error_type) == (RequestState.RETRY, "SoftTimeLimitExceeded")
