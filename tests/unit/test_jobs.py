"""The job runner: states reported for good, unknown, failing and malformed jobs."""

from __future__ import annotations

from typing import Any

from streams.jobs import JobRunner
from streams.records import ProcessRequest, RequestState, RequestStatus


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
