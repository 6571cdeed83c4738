"""Records: strict parsing of any producer's JSON, Faust round trips, one validation error type."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from streams.exceptions import RecordValidationError
from streams.messages.records import (
    SCHEMA_VERSION,
    CollectRequest,
    RawItem,
    RequestState,
    RequestStatus,
    TrendState,
    TrendUpdate,
)
from tests.factories import make_item, make_request


def test_plain_json_trigger_gets_defaults() -> None:
    request = CollectRequest.parse(b'{"plugin": "hackernews"}')
    assert request.plugin == "hackernews"
    assert len(request.request_id) == 32
    assert request.options == {}
    assert request.dry_run is False
    assert request.priority == 0
    assert request.created_at is not None
    assert request.created_at.tzinfo is not None
    assert request.schema_version == SCHEMA_VERSION


def test_plain_json_trigger_with_every_field() -> None:
    payload = {
        "plugin": "all",
        "request_id": "r-1",
        "options": {"limit": 5},
        "dry_run": True,
        "then_process": True,
        "priority": 7,
        "deadline": "2026-12-01T10:00:00Z",
        "requested_by": "kcat",
        "created_at": "2026-11-25T09:00:00+00:00",
    }
    request = CollectRequest.parse(json.dumps(payload))
    assert request.request_id == "r-1"
    assert request.options == {"limit": 5}
    assert request.then_process is True
    assert request.deadline == datetime(2026, 12, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (make_request(), CollectRequest),
        (
            make_item(published_at=datetime(2026, 1, 2, 3, tzinfo=UTC), engagement={"x": 1.5}),
            RawItem,
        ),
        (
            RequestStatus(request_id="r", state=RequestState.RETRY, timings={"received": 1.0}),
            RequestStatus,
        ),
        (TrendUpdate(topic_id="t", label="l", state=TrendState.TRENDING, score=2.5), TrendUpdate),
    ],
)
def test_faust_serialisation_round_trips(record: object, kind: type) -> None:
    payload = record.dumps()  # type: ignore[attr-defined]
    assert json.loads(payload)["__faust"]["ns"].startswith("trend_stream.")
    assert kind.parse(payload) == record
    assert kind.loads(payload) == record


def test_enums_are_coerced_by_faust_too() -> None:
    status = RequestStatus(request_id="r", state=RequestState.SUCCESS)
    assert RequestStatus.loads(status.dumps()).state is RequestState.SUCCESS
    assert RequestState.SUCCESS.is_final and not RequestState.STARTED.is_final


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "payload is not valid JSON"),
        (b"", "the payload is empty"),
        (None, "the payload is empty"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"options": {}}', "plugin: Field required"),
        (b'{"plugin": 5}', "plugin: Input should be a valid string"),
        (b'{"plugin": "x", "plugn": "y"}', "plugn: unknown field"),
        (b'{"plugin": "x", "priority": "high"}', "priority: Input should be a valid integer"),
        (b'{"plugin": "x", "priority": 10}', "priority: must be between 0 and 9"),
        (b'{"plugin": "  "}', "plugin: must not be empty"),
        (b'{"plugin": "x", "deadline": "soon"}', "deadline: Input should be a valid datetime"),
        (b'{"plugin": "x", "deadline": "2026-01-01T00:00:00"}', "deadline: must carry a timezone"),
        (b'{"plugin": "x", "schema_version": 99}', "schema_version 99 is newer"),
        (b"\xff\xfe", "payload is not valid JSON"),
    ],
)
def test_invalid_triggers_raise_one_clear_error(payload: bytes | None, message: str) -> None:
    with pytest.raises(RecordValidationError) as caught:
        CollectRequest.parse(payload)
    assert str(caught.value).startswith("invalid CollectRequest: ")
    assert message in str(caught.value)


def test_raw_item_requires_its_identity() -> None:
    with pytest.raises(RecordValidationError, match="source_id: Field required"):
        RawItem.parse({"source": "rss", "title": "t"})
    item = RawItem.parse({"source": "rss", "source_id": "1", "title": "t"})
    assert item.key == "rss:1"
    assert item.collected_at is not None


def test_the_priority_lane_starts_at_priority_five() -> None:
    from streams.messages.records import MaintenanceRequest, ProcessRequest
    from streams.messages.topics import (
        COLLECT_REQUESTS,
        COLLECT_REQUESTS_PRIORITY,
        MAINTENANCE_REQUESTS,
        PROCESS_REQUESTS,
    )
    from streams.requests.client import request_topic

    lanes = [make_request(priority=priority).lane for priority in (0, 4, 5, 9)]
    assert lanes == ["bulk", "bulk", "priority", "priority"]
    assert request_topic(make_request(priority=5)) is COLLECT_REQUESTS_PRIORITY
    assert request_topic(make_request(priority=4)) is COLLECT_REQUESTS
    assert request_topic(ProcessRequest(job="sweep")) is PROCESS_REQUESTS
    assert request_topic(MaintenanceRequest(job="lag")) is MAINTENANCE_REQUESTS


SURROGATES = [
    (b'{"plugin": "file", "options": {"path": "\\ud800"}}', "options.path: text holds"),
    (b'{"plugin": "file", "options": {"a\\udfffb": 1}}', "options: a key holds"),
    (b'{"plugin": "fi\\udc00le"}', "plugin: text holds"),
    (b'{"plugin": "file", "options": {"x": [["\\ud83d"]]}}', "options.x.0.0: text holds"),
]


@pytest.mark.parametrize(("payload", "message"), SURROGATES)
def test_a_lone_surrogate_is_refused_with_where_it_is(payload: bytes, message: str) -> None:
    with pytest.raises(RecordValidationError) as caught:
        CollectRequest.parse(payload)
    error = str(caught.value)
    assert message in error and "lone surrogate" in error, error
    error.encode("utf-8")  # the reason itself is text: it goes to headers, Redis and answers


def test_every_record_refuses_a_lone_surrogate_even_where_any_value_is_allowed() -> None:
    from streams.messages.records import Alert, MaintenanceRequest

    status = {"request_id": "r1", "state": "SUCCESS", "result": {"title": "\ud800"}}
    alert = {"source": "s", "subject": "x", "severity": "info", "message": "m", "details": {}}
    for kind, data in [
        (RequestStatus, status),
        (Alert, {**alert, "details": {"\udbff": 1}}),
        (MaintenanceRequest, {"job": "health", "options": {"note": "\udc00"}}),
        (RawItem, {"source": "s", "source_id": "1", "title": "t", "engagement": {"\ud800": 1}}),
    ]:
        with pytest.raises(RecordValidationError, match="lone surrogate"):
            kind.parse(json.dumps(data).encode())
    assert CollectRequest.parse(b'{"plugin": "\\ud83d\\ude00"}').plugin == "\U0001f600"
