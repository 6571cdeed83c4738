"""A server away, seen from the web views: /health not ready (still live), triggers answered
503 with Retry-After, and a trigger that could not be sent never left PENDING."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from streams.config import Settings
from streams.messages.records import RequestState
from streams.requests.client import request_collection
from streams.requests.state import RequestStates, redis_client
from streams.servers.db import migrate
from tests.support.workers import Worker, free_port, poll, settings_env

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "servers-away-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
StartWorkers = Callable[..., list[Worker]]
BODY = {"plugin": "file", "options": {"path": "tests/fixtures/items.jsonl"}, "dry_run": True}


def _stack(settings: Settings, *args: str) -> None:
    """`scripts/stack.py` on this test's own servers (its own STATE_DIR)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "stack.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **settings_env(settings)},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _free_port_pair() -> int:
    """A free port whose next port is free too (a private broker's controller listens there)."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def _private(test_settings: Settings, tmp_path: Path, **update: Any) -> Settings:
    return test_settings.model_copy(
        update={
            "state_dir": tmp_path / "private",
            "api_token": SecretStr(TOKEN),
            "file_plugin_dir": ROOT,
            **update,
        }
    )


@pytest.fixture
def private_redis(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on a Redis of its own, purged afterwards."""
    settings = _private(test_settings, tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    _stack(settings, "start", "redis")
    try:
        yield settings
    finally:
        _stack(settings, "purge")


@pytest.fixture
async def private_postgres(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on a migrated PostgreSQL of its own, purged afterwards."""
    dsn = f"postgresql://away:pw@127.0.0.1:{free_port()}/awaydb"
    settings = _private(test_settings, tmp_path, database_url=SecretStr(dsn))
    _stack(settings, "start", "postgres")
    try:
        await migrate(dsn)
        yield settings
    finally:
        _stack(settings, "purge")


@pytest.fixture
def private_kafka(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on an Apache Kafka of its own, purged afterwards."""
    bootstrap = f"127.0.0.1:{_free_port_pair()}"
    settings = _private(test_settings, tmp_path, kafka_bootstrap_servers=bootstrap)
    _stack(settings, "start", "kafka")
    try:
        yield settings
    finally:
        _stack(settings, "purge")


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

    _stack(private_redis, "stop", "redis")
    _assert_not_ready_but_live(collector, "redis")
    refused = httpx.post(f"{collector.url}/collect", json=BODY, headers=AUTH, timeout=30)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    assert int(refused.headers["Retry-After"]) > 0
    assert "unavailable" in refused.json()["error"]

    _stack(private_redis, "start", "redis")
    assert poll(lambda: _back(collector), 30), _health(collector)
    accepted = httpx.post(f"{collector.url}/collect", json=BODY, headers=AUTH, timeout=30)
    assert accepted.status_code == 202, accepted.text


def test_postgres_away_makes_a_worker_unready_but_live(
    private_postgres: Settings, start_workers: StartWorkers
) -> None:
    [maintenance] = start_workers("maintenance", private_postgres)
    assert _health(maintenance)[0] == 200

    _stack(private_postgres, "stop", "postgres")
    _assert_not_ready_but_live(maintenance, "postgres")
    _stack(private_postgres, "start", "postgres")
    report = poll(lambda: _back(maintenance), 60)
    assert report, _health(maintenance)
    assert report["servers"]["postgres"] == {"connected": True, "error": None}


async def test_a_trigger_that_cannot_be_sent_is_503_and_not_left_pending(
    private_kafka: Settings, start_workers: StartWorkers
) -> None:
    [collector] = start_workers("collector", private_kafka)
    [maintenance] = start_workers("maintenance", private_kafka)
    _stack(private_kafka, "stop", "kafka")
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
