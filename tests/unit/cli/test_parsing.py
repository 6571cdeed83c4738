"""trendctl's argument parsing: KEY=VALUE options, times, states, dead-letter filters, topics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.operations.cli.parsing import (
    BadInputError,
    catalog_topic,
    dead_letter_filter,
    parse_options,
    parse_states,
    parse_time,
)

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_option_values_are_json_when_they_parse() -> None:
    options = parse_options(["limit=20", 'feeds=["a", "b"]', "name=python", "x=true", "e="])
    assert options == {"limit": 20, "feeds": ["a", "b"], "name": "python", "x": True, "e": ""}


def test_dotted_option_keys_nest() -> None:
    assert parse_options(["plugins.rss.limit=5", "plugins.reddit.limit=2", "limit=1"]) == {
        "plugins": {"rss": {"limit": 5}, "reddit": {"limit": 2}},
        "limit": 1,
    }


def test_a_value_keeps_its_equal_signs() -> None:
    assert parse_options(["q=a=b"]) == {"q": "a=b"}


@pytest.mark.parametrize("pair", ["limit", "=5", "a..b=1", " =1"])
def test_a_bad_option_is_refused(pair: str) -> None:
    with pytest.raises(BadInputError, match="expected KEY=VALUE"):
        parse_options([pair])


def test_conflicting_dotted_options_are_refused() -> None:
    with pytest.raises(BadInputError, match="conflicts"):
        parse_options(["plugins=1", "plugins.rss.limit=5"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW.timestamp() - 7200),
        ("30m", NOW.timestamp() - 1800),
        ("1d", NOW.timestamp() - 86400),
        ("1700000000", 1700000000.0),
        ("2026-01-31T10:00:00Z", NOW.timestamp() - 7200),
        ("2026-01-31T11:00:00+01:00", NOW.timestamp() - 7200),
        ("2026-01-31T10:00:00", NOW.timestamp() - 7200),
    ],
)
def test_times(text: str, expected: float) -> None:
    assert parse_time(text, NOW) == expected


def test_a_bad_time_says_what_is_accepted() -> None:
    with pytest.raises(BadInputError, match="ISO 8601"):
        parse_time("yesterday")


def test_states_are_checked_and_upper_cased() -> None:
    assert parse_states("started, retry") == "STARTED,RETRY"
    assert parse_states(None) is None
    with pytest.raises(BadInputError, match="unknown state RUNNING"):
        parse_states("RUNNING")


def test_a_dead_letter_filter_from_the_options() -> None:
    letter = "collect.requests.dlq:0:5"
    error = "RecordValidationError"
    where = dead_letter_filter("collect.requests.dlq", error, "2h", None, [letter])
    assert where.topic == "collect.requests"
    assert where.error_class == "RecordValidationError"
    assert where.since is not None and where.until is None
    assert where.ids == frozenset({letter})
    assert dead_letter_filter() == dead_letter_filter(None, None, None, None, [])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"until": "1e400"}, "until: expected epoch seconds from 0"),
        ({"since": "1e400"}, "since: expected epoch seconds from 0"),
        ({"since": "4000000000"}, "since: 4000000000.0 is in the future"),
        ({"since": "1h", "until": "2h"}, "is after until"),
        ({"ids": ["not-an-id"]}, "ids: 'not-an-id' is not a dead-letter id"),
        ({"ids": ["trends.updates.dlq:0:1"]}, "is not a dead-letter id"),
        ({"error": "Record Error"}, "error_class: expected an error's class name"),
    ],
)
def test_a_dead_letter_filter_refuses_what_no_dead_letter_could_match(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadInputError, match=message):
        dead_letter_filter(**arguments)


def test_a_dead_letter_filter_refuses_a_topic_without_dead_letters() -> None:
    with pytest.raises(BadInputError, match="not a catalog topic"):
        dead_letter_filter("nope")
    with pytest.raises(BadInputError, match="no dead-letter topic"):
        dead_letter_filter("trends.updates")


def test_catalog_topics_with_or_without_the_namespace() -> None:
    assert catalog_topic("items.raw").name == "items.raw"
    assert catalog_topic("ns.items.raw", "ns.").name == "items.raw"
    assert catalog_topic("items.raw.dlq").name == "items.raw.dlq"
    with pytest.raises(BadInputError, match="'items' is not a catalog topic"):
        catalog_topic("items")
