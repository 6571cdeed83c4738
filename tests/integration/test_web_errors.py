"""Every route of every worker answers errors as JSON with the right status, never a 500 for
bad input; a property test posts arbitrary trigger bodies to a real collector and dashboard."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from streams.config import Settings
from streams.messages.topics import COLLECT_REQUESTS
from streams.reliability.deadletter import DeadLetters
from tests.support.kafka import produce
from tests.support.workers import Worker, apoll, free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "web-errors-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRIGGERS = ("/collect", "/api/collect")
MIB = 1024 * 1024


@pytest.fixture
def web_settings(test_settings: Settings, tmp_path: Path) -> Settings:
    """A token, only the `file` plugin (reading an empty folder) and sources nobody serves, so
    whatever a generated body asks for ends quickly without leaving the machine."""
    dead = f"http://127.0.0.1:{free_port()}"
    return test_settings.model_copy(
        update={
            "api_token": SecretStr(TOKEN),
            "file_plugin_dir": tmp_path,
            "plugins_enabled": ("file",),
            "hackernews_base_url": dead,
            "reddit_base_url": dead,
            "mastodon_base_url": dead,
            "rss_feeds": (dead,),
        }
    )


@pytest.fixture
def workers(
    web_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> dict[str, Worker]:
    """A collector and a maintenance worker (the dashboard)."""
    return {
        "collector": start_workers("collector", web_settings)[0],
        "maintenance": start_workers("maintenance", web_settings)[0],
    }


@pytest.fixture
def clients(workers: dict[str, Worker]) -> Iterator[dict[str, httpx.Client]]:
    opened = {name: httpx.Client(base_url=w.url, timeout=30) for name, w in workers.items()}
    yield opened
    for client in opened.values():
        client.close()


def _trigger(clients: dict[str, httpx.Client], path: str) -> httpx.Client:
    return clients["collector" if path == "/collect" else "maintenance"]


def _json_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert isinstance(error, str) and error
    assert "Traceback" not in error
    return error


DEEP = b'{"plugin": "file", "options": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
BAD_BODIES: dict[str, tuple[bytes, int, str]] = {
    "nested 5,000 deep": (DEEP, 400, "nests deeper than 32 levels"),
    "integer over 64 bits": (
        b'{"plugin": "file", "options": {"limit": 123456789012345678901234567890}}',
        400,
        "integer outside the 64-bit range",
    ),
    "dry_run yes": (b'{"plugin": "file", "dry_run": "yes"}', 400, "dry_run: Input should be"),
    "unknown plugin": (b'{"plugin": "nope"}', 400, "unknown plugin 'nope'"),
    "request id with a slash": (
        b'{"plugin": "file", "request_id": "a/b", "options": {"path": "x.jsonl"}}',
        400,
        "request_id: expected 1 to 200 characters",
    ),
    "request id with NUL": (
        b'{"plugin": "file", "request_id": "a\\u0000b", "options": {"path": "x.jsonl"}}',
        400,
        "NUL",
    ),
    "request id of 10,000 characters": (
        json.dumps({"plugin": "file", "request_id": "x" * 10_000}).encode(),
        400,
        "(10,000 characters)",
    ),
    "not JSON": (b"{nope", 400, "JSON"),
    "lone surrogate in an option": (
        b'{"plugin": "file", "dry_run": true, "options": {"path": "\\ud800"}}',
        400,
        "options.path: text holds a lone surrogate (\\ud800 at 0)",
    ),
    "lone surrogate in a key": (
        b'{"plugin": "file", "options": {"path": "x.jsonl", "a\\udc00": 1}}',
        400,
        "options: a key holds a lone surrogate (\\udc00 at 1)",
    ),
    "over MAX_REQUEST_BYTES": (
        b'{"plugin": "' + b"x" * (2 * MIB) + b'"}',
        413,
        "MAX_REQUEST_BYTES",
    ),
}
COLLECTOR_ONLY: dict[str, tuple[bytes, str]] = {
    "negative limit": (b'{"plugin": "file", "options": {"path": "a", "limit": -1}}', "limit"),
    "unknown option": (b'{"plugin": "file", "options": {"path": "a", "pth": 1}}', "pth"),
    "missing path": (b'{"plugin": "file"}', "option 'path' (a JSONL file) is required"),
    "path outside": (b'{"plugin": "file", "options": {"path": "../x"}}', "outside FILE_PLUGIN"),
}


def _chunked(body: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    """The body in pieces, sent without a Content-Length (chunked transfer encoding)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_bodies_are_read_whole_and_bad_ones_are_4xx_json_on_both_trigger_routes(
    clients: dict[str, httpx.Client],
) -> None:
    for path in TRIGGERS:
        client = _trigger(clients, path)
        for name, (body, status, message) in BAD_BODIES.items():
            error = _json_error(client.post(path, content=body, headers=AUTH), status)
            assert message in error, (path, name, error)
        spaced = b'{"plugin": "file", "options": {"path": "x.jsonl"}' + b" " * 1_000_000 + b"}"
        for content in (spaced, _chunked(spaced)):
            accepted = client.post(path, content=content, headers=AUTH)
            assert accepted.status_code == 202, (path, accepted.text[:300])
        big = _chunked(b'{"plugin": "file"' + b" " * (2 * MIB) + b"}")
        assert "MAX_REQUEST_BYTES" in _json_error(client.post(path, content=big, headers=AUTH), 413)
    for name, (body, message) in COLLECTOR_ONLY.items():
        error = _json_error(clients["collector"].post("/collect", content=body, headers=AUTH), 400)
        assert message in error, (name, error)


def test_a_body_over_the_topics_10_mib_is_a_413_at_every_door_taking_one(
    clients: dict[str, httpx.Client],
) -> None:
    body = b'{"plugin": "file", "x": "' + b"x" * (10 * MIB + 1) + b'"}'
    doors = [
        ("collector", "/collect"),
        ("maintenance", "/api/collect"),
        ("maintenance", "/api/deadletters/redrive"),
        ("maintenance", "/api/deadletters/purge"),
    ]
    for worker, path in doors:
        client = clients[worker]
        for content in (body, _chunked(body, 1024 * 1024)):
            response = client.post(path, content=content, headers=AUTH)
            assert "MAX_REQUEST_BYTES" in _json_error(response, 413), path
        assert client.get("/health/live").status_code == 200


def test_unknown_routes_methods_and_request_ids_are_json_errors(
    clients: dict[str, httpx.Client],
    start_workers: Callable[..., list[Worker]],
    web_settings: Settings,
) -> None:
    [processor] = start_workers("processor", web_settings)
    with httpx.Client(base_url=processor.url, timeout=30) as third:
        for client in (*clients.values(), third):
            for path in ("/router/k1/", "/router/", "/table/k1/", "/no/such/route"):
                _json_error(client.get(path), 404)
            _json_error(client.post("/health"), 405)
    collector, dashboard = clients["collector"], clients["maintenance"]
    _json_error(collector.get("/collect"), 405)
    for bad in ("a%0Ab", "a%20b", "x" * 300, "..."):
        assert "invalid request id" in _json_error(collector.get(f"/requests/{bad}"), 400)
        cancel = collector.post(f"/requests/{bad}/cancel", headers=AUTH)
        assert "invalid request id" in _json_error(cancel, 400)
        assert "invalid request id" in _json_error(dashboard.get(f"/api/requests/{bad}"), 400)
    _json_error(collector.get("/requests/nobody-asked"), 404)
    page = dashboard.get("/dashboard/requests/nobody-asked")
    assert "no request 'nobody-asked' is known" in _json_error(page, 404)
    assert "invalid request id" in _json_error(dashboard.get("/dashboard/requests/a%20b"), 400)


def test_what_aiohttp_refuses_before_any_route_is_a_json_error_too(
    clients: dict[str, httpx.Client],
) -> None:
    long_line = "longer than 8190 bytes, the most this server reads"
    for client in clients.values():
        for path in (f"/health?x={'a' * 20_000}", f"/requests/{'r' * 20_000}"):
            assert long_line in _json_error(client.get(path), 400), path
        header = client.get("/health/live", headers={"X-Long": "h" * 20_000})
        assert long_line in _json_error(header, 400)
        assert client.get("/health/live").status_code == 200


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(["file", "all", "high_frequency", "x.jsonl", "a/b", "\x00", "yes", "\ud800"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)
FIELDS = st.sampled_from(
    [
        "plugin",
        "request_id",
        "options",
        "dry_run",
        "then_process",
        "priority",
        "deadline",
        "requested_by",
        "created_at",
        "parent_id",
        "schema_version",
        "unknown",
    ]
)
OPTIONS = st.dictionaries(
    st.sampled_from(["path", "limit", "since", "sample_size", "plugins", "lists", "x"]),
    JSON_VALUES,
    max_size=4,
)
NEAR_VALID = st.fixed_dictionaries(
    {"plugin": st.sampled_from(["file", "all", "high_frequency", "nope", ""])},
    optional={"options": OPTIONS, "dry_run": JSON_VALUES, "priority": JSON_VALUES},
) | st.dictionaries(FIELDS, JSON_VALUES, max_size=6)


def _body(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(_body),
    NEAR_VALID.map(_body),
    st.integers(min_value=1, max_value=200).map(lambda depth: b"[" * depth + b"]" * depth),
)


def test_no_trigger_body_gives_a_5xx(clients: dict[str, httpx.Client]) -> None:
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=BODIES, path=st.sampled_from(TRIGGERS))
    def post(body: bytes, path: str) -> None:
        response = _trigger(clients, path).post(path, content=body, headers=AUTH)
        assert response.status_code < 500, (response.status_code, response.text[:300], body[:200])
        assert response.status_code in (202, 400, 413), response.text[:300]
        assert response.headers["content-type"].startswith("application/json")

    post()


def test_without_a_token_every_action_is_refused(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    settings = test_settings.model_copy(update={"api_token": SecretStr("")})
    [collector] = start_workers("collector", settings)
    [maintenance] = start_workers("maintenance", settings)
    actions = [
        (collector, "/collect", b'{"plugin": "file"}'),
        (collector, "/requests/r1/cancel", b""),
        (maintenance, "/api/collect", b'{"plugin": "file"}'),
        (maintenance, "/api/requests/r1/cancel", b""),
        (maintenance, "/api/deadletters/purge", b'{"all": true}'),
    ]
    for worker, path, body in actions:
        for headers in ({}, AUTH, {"Authorization": "Bearer"}):
            response = httpx.post(f"{worker.url}{path}", content=body, headers=headers, timeout=30)
            assert "API_TOKEN is not set" in _json_error(response, 401), path


BAD_FILTERS: dict[bytes, str] = {
    b'{"until": 1e400}': "until: numbers must be finite",
    b'{"since": -1e400}': "since: numbers must be finite",
    b'{"until": -1}': "until: expected epoch seconds from 0",
    b'{"until": 1e300}': "until: expected epoch seconds from 0",
    b'{"since": 4000000000}': "since: 4000000000.0 is in the future",
    b'{"since": "9999-01-01T00:00:00+00:00"}': "is in the future",
    b'{"since": 20, "until": 10}': "since (20.0) is after until (10.0)",
    b'{"since": "yesterday"}': "since: expected epoch seconds or ISO 8601",
    b'{"since": true}': "since: expected epoch seconds",
    b'{"ids": ["not-an-id"]}': "ids: 'not-an-id' is not a dead-letter id",
    b'{"ids": ["trends.updates.dlq:0:1"]}': "is not a dead-letter id",
    b'{"ids": "collect.requests.dlq:0:0"}': "ids: expected a list",
    b'{"ids": [5]}': "ids: each id is a string",
    b'{"topic": "nope"}': "topic: 'nope' is not a catalog topic",
    b'{"topic": "trends.updates"}': "topic: 'trends.updates' has no dead-letter topic",
    b'{"topic": 5}': "topic: expected a string, got int",
    b'{"error_class": ["x"]}': "error_class: expected a string, got list",
    b'{"error_class": "no such class"}': "error_class: expected an error's class name",
    b'{"all": "yes"}': "all: expected true or false",
    b'{"all": false}': "or all: true for every dead letter",
    b'{"all": true, "colour": "red"}': "unknown field(s): colour",
    b"": "or all: true for every dead letter",
    b"{}": "or all: true for every dead letter",
    b"[]": "body must be a JSON object, got list",
    b'{"topic": "\\ud800"}': "topic: text holds a lone surrogate (\\ud800 at 0)",
    b'{"\\udc00": true}': "a key holds a lone surrogate (\\udc00 at 0)",
}
"""Bodies of a redrive or purge that no dead letter could rightly match: each names its field."""


async def test_dead_letter_actions_refuse_bad_filters_and_touch_nothing(
    clients: dict[str, httpx.Client], web_settings: Settings
) -> None:
    for n in range(2):
        await produce(web_settings, COLLECT_REQUESTS, b'{"plugin": ', key=f"broken-{n}".encode())
    letters = DeadLetters(web_settings)

    async def broken() -> list[str]:
        entries = await letters.entries()
        return [e.id for e in entries if (e.delivery.key_text or "").startswith("broken-")]

    ids = await apoll(lambda: _two(broken), 60)
    assert ids, await letters.summary()
    dashboard = clients["maintenance"]
    for action in ("redrive", "purge"):
        for body, message in BAD_FILTERS.items():
            response = dashboard.post(f"/api/deadletters/{action}", content=body, headers=AUTH)
            assert message in _json_error(response, 400), (action, body)
    for query in ({"topic": "nope"}, {"error_class": "a b"}):
        assert _json_error(dashboard.get("/api/deadletters", params=query), 400)
    assert await broken() == ids

    one = dashboard.post("/api/deadletters/purge", json={"ids": ids[:1]}, headers=AUTH)
    assert one.status_code == 200 and one.json() == {"purged": ids[:1], "count": 1}, one.text
    assert await broken() == ids[1:]


async def _two(found: Callable[[], Awaitable[list[str]]]) -> list[str]:
    ids = await found()
    return ids if len(ids) == 2 else []
