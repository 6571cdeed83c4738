"""The request id rule and the request checks every door shares (streams/messages/records.py)."""

from __future__ import annotations

import json

import pytest

from streams.exceptions import RecordValidationError
from streams.messages.records import (
    REQUEST_ID_MAX_LENGTH,
    CollectRequest,
    ControlCommand,
    MaintenanceRequest,
    ProcessRequest,
    RawItem,
    check_request_id,
    is_request_id,
)

BAD_IDS = {
    "slash": "a/b",
    "newline": "a\nb",
    "NUL": "a\x00b",
    "10,000 characters": "x" * 10_000,
    "space": "a b",
    "empty": "",
    "dot": ".",
    "dots": "..",
    "question mark": "a?b",
    "percent": "a%2Fb",
    "non-ASCII": "caf\u00e9",
}
GOOD_IDS = (
    "r1",
    "3f2a9c0e1b7d4e5f8a6b",
    "all.20260101T000000.hackernews",
    "t1a2b3c.collect_all.20260101T000000",
    "invalid-t1.collect.requests-0-17",
    "user@host:job+1=x",
    "x" * REQUEST_ID_MAX_LENGTH,
)


@pytest.mark.parametrize("request_id", GOOD_IDS)
def test_good_ids_pass_everywhere(request_id: str) -> None:
    assert is_request_id(request_id)
    assert check_request_id(request_id) == request_id
    body = {"plugin": "file", "request_id": request_id}
    assert CollectRequest.parse(json.dumps(body)).request_id == request_id
    command = {"command": "revoke", "request_id": request_id}
    assert ControlCommand.parse(json.dumps(command)).request_id == request_id


@pytest.mark.parametrize("name", sorted(BAD_IDS))
def test_bad_ids_are_refused_by_every_request_kind(name: str) -> None:
    request_id = BAD_IDS[name]
    assert not is_request_id(request_id)
    with pytest.raises(RecordValidationError, match=r"^invalid request id: expected 1 to 200"):
        check_request_id(request_id)
    payloads = {
        CollectRequest: {"plugin": "file", "request_id": request_id},
        ProcessRequest: {"job": "sweep", "request_id": request_id},
        MaintenanceRequest: {"job": "health", "request_id": request_id},
        ControlCommand: {"command": "revoke", "request_id": request_id},
    }
    for kind, body in payloads.items():
        if not request_id:
            continue  # an empty id in a request means "give me a new one"
        with pytest.raises(RecordValidationError, match=f"^invalid {kind.__name__}: request_id"):
            kind.parse(json.dumps(body))


def test_an_id_longer_than_the_rule_is_refused() -> None:
    assert not is_request_id("x" * (REQUEST_ID_MAX_LENGTH + 1))


def test_a_request_built_in_python_is_checked_too() -> None:
    request = CollectRequest(plugin="file", request_id="a/b")
    with pytest.raises(RecordValidationError, match="request_id: expected"):
        request.check()
    with pytest.raises(RecordValidationError, match=r"options\.x: integer outside the 64-bit"):
        CollectRequest(plugin="file", options={"x": 2**64}).check()
    with pytest.raises(RecordValidationError, match="NUL"):
        ProcessRequest(job="sweep", options={"path": "a\x00b"}).check()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            b'{"plugin": "file", "options": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
            "payload nests deeper than 32 levels",
        ),
        (
            b'{"plugin": "file", "options": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}",
            "nests deeper than 32 levels",
        ),
        (
            b'{"plugin": "file", "options": {"limit": 123456789012345678901234567890}}',
            "options.limit: integer outside the 64-bit range",
        ),
        (b'{"plugin": "file", "options": {"x": NaN}}', "numbers must be finite"),
        (b'{"plugin": "file", "dry_run": "yes"}', "dry_run: Input should be a valid boolean"),
        (b'{"plugin": "file", "dry_run": 1}', "dry_run: Input should be a valid boolean"),
        (b'{"plugin": "file", "priority": "5"}', "priority: Input should be a valid integer"),
        (b'{"plugin": "file", "options": {"limit": -1}}', "options.limit: must be a whole"),
        (b'{"plugin": "file", "options": {"limit": true}}', "options.limit: must be a whole"),
        (b'{"plugin": "file", "options": {"sample_size": 5000}}', "options.sample_size"),
        (b'{"plugin": "file", "options": {"since": "yesterday"}}', "options.since: must be"),
        (
            b'{"plugin": "file", "options": {"since": "2026-01-01T00:00:00"}}',
            "with a timezone",
        ),
        (b'{"plugin": "all", "options": {"plugins": [1]}}', "options.plugins: must map"),
        (b'{"plugin": "file", "requested_by": "a\\nb"}', "requested_by: at most 200 printable"),
        (b'{"plugin": "fi\\u0000le"}', "text must not hold a NUL character"),
        (b'{"plugin": "file", "parent_id": "a/b"}', "parent_id: expected"),
    ],
)
def test_malformed_requests_are_refused_with_the_reason(payload: bytes, message: str) -> None:
    with pytest.raises(RecordValidationError, match=r"^invalid CollectRequest: ") as refused:
        CollectRequest.parse(payload)
    assert message in str(refused.value)


def test_valid_common_options_pass() -> None:
    options = {
        "limit": 0,
        "sample_size": 1000,
        "since": "2026-01-01T00:00:00Z",
        "plugins": {"rss": {"limit": 2}, "reddit": None},
    }
    request = CollectRequest.parse(json.dumps({"plugin": "all", "options": options}))
    assert request.options == options


def test_items_are_strict_about_numbers_but_may_hold_any_text() -> None:
    with pytest.raises(RecordValidationError, match="score: Input should be a valid integer"):
        RawItem.parse(b'{"source": "x", "source_id": "1", "title": "t", "score": "12"}')
    item = RawItem.parse(b'{"source": "x", "source_id": "1", "title": "t\\u0000", "score": 12}')
    assert item.score == 12
