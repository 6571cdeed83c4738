"""A server away, seen from the web views: /health not ready (still live), triggers answered
503 with Retry-After, a trigger that could not be sent never left PENDING, and the health
probe never asks again on a connection it left mid-question."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from streams.config import Settings
from streams.messages.records import RequestState
from streams.requests.client import request_collection
from streams.requests.state import RequestStates, redis_client
from streams.servers.health import ServerProbe
from tests.integration.reliability.conftest import AUTH
from tests.support.stack import stack
from tests.support.workers import Worker, apoll, poll

StartWorkers = Callable[..., list[Worker]]
BODY = {"plugin": "file", "options": {"path": "tests/fixtures/items.jsonl"}, "dry_run": True}


def _health(worker: Worker) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{worker.url}/health", timeout=10)
    return response.status_code, response.json()


def _away(worker: Worker, server: str) -> dict[str, Any] | None:
    code, report = _health(worker)
    gone = code == 503 and not report["servers"][server]["connected"]
    return report if gone else None


def _back(worker: Worker) -> dict[str, Any] | None:
    code, report = _health(worker)
    return report if code == 200 and report["ready"] else None


def _assert_not_ready_but_live(worker: Worker, server: str) -> None:
    report = poll(lambda: _away(worker, server), 30)
    assert report, f"/health never noticed {server} away: {_health(worker)}"
    assert (report["status"], report["ready"], report["live"]) == ("degraded", False, True)
    assert report["broker"]["connected"] is True
    assert report["servers"][server]["error"]
    ready = httpx.get(f"{worker.url}/health/ready", timeout=10)
    assert ready.status_code == 503 and ready.json()["ready"] is False
    live = httpx.get(f"{worker.url}/health/live", timeout=10)
    assert live.status_code == 200 and live.json()["live"] is True


def test_redis_away_makes_a_worker_unready_and_a_trigger_503(
    private_redis: Settings, start_workers: StartWorkers
) -> None:
    [collector] = start_workers("collector", private_redis)
    code, report = _health(collector)
    assert code == 200 and report["ready"] is True
    assert report["servers"] == {
        "postgres": {"connected": True, "error": None},
        "redis": {"connected": True, "error": None},
    }

    stack(private_redis, "stop", "redis")
    _assert_not_ready_but_live(collector, "redis")
    refused = httpx.post(f"{collector.url}/collect", json=BODY, headers=AUTH, timeout=30)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    assert int(refused.headers["Retry-After"]) > 0
    assert "unavailable" in refused.json()["error"]

    stack(private_redis, "start", "redis")
    assert poll(lambda: _back(collector), 30), _health(collector)
    accepted = httpx.post(f"{collector.url}/collect", json=BODY, headers=AUTH, timeout=30)
    assert accepted.status_code == 202, accepted.text


def test_postgres_away_makes_a_worker_unready_but_live(
    private_postgres: Settings, start_workers: StartWorkers
) -> None:
    [maintenance] = start_workers("maintenance", private_postgres)
    assert _health(maintenance)[0] == 200

    stack(private_postgres, "stop", "postgres")
    _assert_not_ready_but_live(maintenance, "postgres")
    stack(private_postgres, "start", "postgres")
    report = poll(lambda: _back(maintenance), 60)
    assert report, _health(maintenance)
    assert report["servers"]["postgres"] == {"connected": True, "error": None}


async def _probed_backends(admin: asyncpg.Connection) -> set[int]:
    """The backends of the private database's clients other than `admin` (the probe's)."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    return {row["pid"] for row in rows}


async def test_a_postgres_question_cut_off_by_the_probe_s_timeout_leaves_its_connection(
    private_postgres: Settings,
) -> None:
    probe = ServerProbe(private_postgres, ("postgres",), ttl=0.0, timeout=1.0)
    admin = await asyncpg.connect(private_postgres.database_url.get_secret_value())
    try:
        assert await probe.check() == {"postgres": None}
        [backend] = await _probed_backends(admin)
        os.kill(backend, signal.SIGSTOP)  # the question is sent; the answer never comes
        try:
            cut_off = await probe.check()
        finally:
            os.kill(backend, signal.SIGCONT)
        assert cut_off["postgres"] is not None and "Timeout" in cut_off["postgres"], cut_off
        assert await probe.check() == {"postgres": None}
        left = await apoll(lambda: _left(admin, backend), timeout=10, interval=0.2)
        assert left, "the connection left mid-question was kept and asked again"
    finally:
        await probe.close()
        await admin.close()


async def _left(admin: asyncpg.Connection, backend: int) -> bool:
    return backend not in await _probed_backends(admin)


async def test_a_trigger_that_cannot_be_sent_is_503_and_not_left_pending(
    private_kafka: Settings, start_workers: StartWorkers
) -> None:
    [collector] = start_workers("collector", private_kafka)
    [maintenance] = start_workers("maintenance", private_kafka)
    stack(private_kafka, "stop", "kafka")
    states = RequestStates(redis_client(private_kafka), private_kafka)
    try:
        for worker, path in ((collector, "/collect"), (maintenance, "/api/collect")):
            request_id = f"unsent{path.replace('/', '-')}"
            body = json.dumps({**BODY, "request_id": request_id})
            async with httpx.AsyncClient(base_url=worker.url, timeout=60) as web:
                refused = await web.post(path, content=body, headers=AUTH)
            assert refused.status_code == 503, (path, refused.text)
            assert int(refused.headers["Retry-After"]) > 0
            assert "unavailable" in refused.json()["error"]
            status = await states.get(request_id)
            assert status is not None, f"{path}: nothing recorded"
            assert status.state is RequestState.FAILURE, (path, status)
            assert status.error is not None and "could not be sent" in status.error
        with pytest.raises(Exception) as raised:
            await request_collection(
                "file", options=BODY["options"], request_id="unsent-client", settings=private_kafka
            )
        assert "Kafka" in type(raised.value).__name__
        assert await states.get("unsent-client") is None
    finally:
        await states.redis.aclose()
        for worker in (collector, maintenance):  # a worker cannot leave its group cleanly now
            worker.process.kill()
            worker.process.wait(30)
