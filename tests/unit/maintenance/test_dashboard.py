"""The dashboard's pure parts: input checks, sparklines, the OpenAPI document, the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from openapi_spec_validator import validate

from services.maintenance.dashboard.api import DashboardApi
from services.maintenance.dashboard.inputs import (
    DashboardInputError,
    deadletter_filter,
    json_body,
    name,
    states,
    whole,
)
from services.maintenance.dashboard.openapi import document
from services.maintenance.dashboard.operations import OPERATIONS
from services.maintenance.dashboard.pages import (
    STATIC_TYPES,
    dashboard_page,
    request_page,
    static_file,
)
from services.maintenance.dashboard.trends import hourly_series
from streams.reliability.deadletter import DeadLetterFilter


def test_whole_numbers_have_defaults_and_bounds() -> None:
    assert whole({}, "limit", 50, 1, 500) == 50
    assert whole({"limit": "7"}, "limit", 50, 1, 500) == 7
    with pytest.raises(DashboardInputError, match="limit: expected a whole number"):
        whole({"limit": "many"}, "limit", 50, 1, 500)
    with pytest.raises(DashboardInputError, match="between 1 and 500, got 501"):
        whole({"limit": "501"}, "limit", 50, 1, 500)


def test_names_and_states_are_checked() -> None:
    assert name({"plugin": "hackernews"}, "plugin") == "hackernews"
    assert name({"plugin": ""}, "plugin") is None
    with pytest.raises(DashboardInputError, match="plugin: expected letters"):
        name({"plugin": "<script>"}, "plugin")
    assert states({"state": "failure, revoked"}) == "FAILURE,REVOKED"
    assert states({}) is None
    with pytest.raises(DashboardInputError, match="DONE not one of PENDING"):
        states({"state": "SUCCESS,DONE"})


def test_bodies_are_json_objects() -> None:
    assert json_body(b"") == {}
    assert json_body(b'{"topic": "items.raw"}') == {"topic": "items.raw"}
    with pytest.raises(DashboardInputError, match="not valid JSON"):
        json_body(b"{nope")
    with pytest.raises(DashboardInputError, match="must be a JSON object, got list"):
        json_body(b"[1]")
    with pytest.raises(DashboardInputError, match="body: until: numbers must be finite"):
        json_body(b'{"until": 1e400}')
    with pytest.raises(DashboardInputError, match=r"body: topic: text holds a lone surrogate"):
        json_body(b'{"topic": "\\ud800"}')
    with pytest.raises(DashboardInputError, match=r"body: payload: a key holds a lone surrogate"):
        json_body(b'{"\\udfff": 1}')


def test_a_dead_letter_filter_needs_a_condition_or_all() -> None:
    assert deadletter_filter({"all": True}) == DeadLetterFilter()
    assert deadletter_filter({"topic": "collect.requests", "since": 10}) == DeadLetterFilter(
        topic="collect.requests", since=10.0
    )
    at = deadletter_filter({"until": "2026-01-01T00:00:00+00:00"}).until
    assert at == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    ids = deadletter_filter({"ids": ["items.raw.dlq:0:3"]}).ids
    assert ids == frozenset({"items.raw.dlq:0:3"})
    for body, message in [
        ({}, "all: true"),
        ({"all": False}, "all: true"),
        ({"all": "yes"}, "all: expected true or false"),
        ({"topic": 3}, "topic: expected a string, got int"),
        ({"topic": "nope"}, "topic: 'nope' is not a catalog topic"),
        ({"until": float("inf")}, "until: expected epoch seconds from 0"),
        ({"since": 4e9}, "since: 4000000000.0 is in the future"),
        ({"ids": ["not-an-id"]}, "ids: 'not-an-id' is not a dead-letter id"),
        ({"ids": [3]}, "ids: each id is a string"),
        ({"since": "yesterday"}, "since: expected epoch seconds"),
        ({"until": "2026-01-01T00:00:00"}, "with a timezone"),
        ({"ids": "items.raw.dlq:0:3"}, "ids: expected a list"),
        ({"colour": "red"}, "unknown field"),
    ]:
        with pytest.raises(DashboardInputError, match=message):
            deadletter_filter(body)


def test_hourly_series_fills_missing_hours_with_zero() -> None:
    end = datetime(2026, 3, 1, 12, 40, tzinfo=UTC)
    hour = end.replace(minute=0)
    points = [(hour, 5), (hour - timedelta(hours=2), 3), (hour - timedelta(hours=9), 99)]
    assert hourly_series(points, end, 4) == [0, 3, 0, 5]
    assert hourly_series([], end, 3) == [0, 0, 0]


def test_the_openapi_document_is_valid_and_lists_every_route() -> None:
    spec = document()
    validate(spec)
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert documented == {(op.method, op.path) for op in OPERATIONS}
    for op in OPERATIONS:
        described = spec["paths"][op.path][op.method]
        assert (op.action and "401" in described["responses"]) or not op.action
        assert hasattr(DashboardApi, op.handler), op.handler
        assert op.path.startswith("/api/")


def test_the_pages_hold_every_section_and_escape_the_request_id() -> None:
    page = dashboard_page(2.5)
    assert 'data-refresh-ms="2500"' in page
    for ident in ("workers", "groups", "lag-chart", "requests", "deadletters", "plugins", "trends"):
        assert f'id="{ident}"' in page
    detail = request_page(3.0, '<x">')
    assert "&lt;x&quot;&gt;" in detail and '<x">' not in detail
    for name_ in STATIC_TYPES:
        assert static_file(name_)
    with pytest.raises(KeyError):
        static_file("../pages.py")


def test_every_api_route_the_worker_serves_is_documented() -> None:
    from services.maintenance import views
    from services.maintenance.app import app

    assert views.dashboard is not None
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.web.web_app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method in ("GET", "POST")
    }
    spec = document()
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert served == documented | {("get", "/api/openapi.json")}
