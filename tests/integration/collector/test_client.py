"""The Python client and the collector's HTTP views, against a real collector worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from streams.config import Settings
from streams.messages.records import CollectRequest, RequestState
from streams.messages.topics import COLLECT_REQUESTS
from streams.requests import client
from streams.requests.client import RequestHandle, RequestTimeoutError, request_collection, send
from streams.requests.state import RequestStates, redis_client
from tests.support.workers import Worker, apoll, poll

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "test-token"
FILE_OPTIONS = {"path": "tests/fixtures/items.jsonl"}


@pytest.fixture
def client_settings(test_settings: Settings) -> Settings:
    """Settings with an API token and the project root as FILE_PLUGIN_DIR."""
    return test_settings.model_copy(update={"api_token": SecretStr(TOKEN), "file_plugin_dir": ROOT})


@pytest.fixture
def collector(client_settings: Settings, start_workers: Callable[..., list[Worker]]) -> Worker:
    """One collector worker."""
    return start_workers("collector", client_settings)[0]


async def test_result_blocks_until_the_request_is_done(
    collector: Worker, client_settings: Settings
) -> None:
    handle = await request_collection(
        "file", options=FILE_OPTIONS, dry_run=True, settings=client_settings
    )
    async with handle:
        result = await handle.result(timeout=60)
        assert result["items_collected"] == 5
        assert await handle.state() is RequestState.SUCCESS


async def test_a_timeout_raises_a_clear_error(client_settings: Settings) -> None:
    async with RequestHandle("nobody-runs-this", client_settings) as handle:
        assert await handle.state() is RequestState.PENDING
        with pytest.raises(
            RequestTimeoutError, match=r"no result within 0.3s \(last state: PENDING\)"
        ):
            await handle.result(timeout=0.3)


async def test_cancel_revokes_a_queued_request(
    collector: Worker, client_settings: Settings
) -> None:
    handle = RequestHandle("to-be-revoked", client_settings)
    async with handle:
        await handle.cancel()
        states = RequestStates(redis_client(client_settings), client_settings)
        revoked = await apoll(lambda: states.is_revoked("to-be-revoked"), 30)
        await states.redis.aclose()
        assert revoked, "the revocation never reached Redis"
        request = CollectRequest(plugin="file", request_id="to-be-revoked", options=FILE_OPTIONS)
        await send(client_settings, COLLECT_REQUESTS, request.request_id, request.dumps())
        status = await handle.wait(30)
        assert status.state is RequestState.REVOKED
        assert status.error == "request to-be-revoked was revoked before it ran"


def test_http_collect_needs_the_token_and_reports_the_state(
    collector: Worker, client_settings: Settings
) -> None:
    body = {"plugin": "file", "options": FILE_OPTIONS, "dry_run": True}
    assert httpx.post(f"{collector.url}/collect", json=body).status_code == 401
    wrong = httpx.post(f"{collector.url}/collect", json=body, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = httpx.post(f"{collector.url}/collect", json={"plugn": "x"}, headers=auth)
    assert bad.status_code == 400
    assert "plugn: unknown field" in bad.json()["error"]
    accepted = httpx.post(f"{collector.url}/collect", json=body, headers=auth)
    assert accepted.status_code == 202
    request_id = accepted.json()["request_id"]

    def done() -> dict[str, object] | None:
        response = httpx.get(f"{collector.url}/requests/{request_id}")
        return response.json() if response.json()["state"] == "SUCCESS" else None

    status = poll(done, 30)
    assert status, "the request never reached SUCCESS"
    assert status["result"]["items_collected"] == 5  # type: ignore[index]
    assert httpx.get(f"{collector.url}/requests/unknown-id").status_code == 404


async def test_a_process_sends_through_one_producer_until_it_closes_it(
    collector: Worker, client_settings: Settings
) -> None:
    loop = asyncio.get_running_loop()
    await client.close()  # whatever earlier tests of this event loop opened
    handles = [
        await request_collection(
            "file", options=FILE_OPTIONS, dry_run=True, priority=priority, settings=client_settings
        )
        for priority in (0, 9)  # the bulk lane and the priority lane
    ]
    first = list(client._producers[loop].started.values())
    assert len(first) == 1
    for handle in handles:
        async with handle:
            assert (await handle.result(timeout=60))["items_collected"] == 5
    await client.close()
    assert loop not in client._producers
    async with await request_collection(
        "file", options=FILE_OPTIONS, dry_run=True, settings=client_settings
    ) as again:
        assert (await again.result(timeout=60))["items_collected"] == 5
    assert list(client._producers[loop].started.values()) != first  # a new one, once closed
    await client.close()
