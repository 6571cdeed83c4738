"""Checking the dashboard API's query parameters and bodies: one clear error, never a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.exceptions import TrendStreamError
from streams.messages.records import MAX_JSON_DEPTH, RequestState, json_problem
from streams.reliability.deadletter import MAX_IDS, DeadLetterFilter, DeadLetterFilterError

__all__ = [
    "DashboardInputError",
    "deadletter_filter",
    "deadletter_query",
    "json_body",
    "name",
    "states",
    "whole",
]

NAME = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")


class DashboardInputError(TrendStreamError):
    """A query parameter or a body the dashboard API refuses (answered with 400)."""


def whole(query: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    """A whole number parameter between `low` and `high` (default when absent)."""
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DashboardInputError(f"{key}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise DashboardInputError(f"{key}: must be between {low} and {high}, got {value}")
    return value


def name(query: Mapping[str, str], key: str) -> str | None:
    """A name-like parameter (letters, digits, `._:@-`), None when absent."""
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    if not NAME.match(raw):
        raise DashboardInputError(f"{key}: expected letters, digits and ._:@- only, got {raw!r}")
    return raw


def states(query: Mapping[str, str], key: str = "state") -> str | None:
    """Request states separated by commas (`FAILURE,REVOKED`), upper-cased; None when absent."""
    raw = query.get(key)
    if raw is None or raw.strip() == "":
        return None
    try:
        return ",".join(RequestState.parse_many(raw))
    except ValueError as exc:
        raise DashboardInputError(f"{key}: {exc}") from None


def json_body(raw: bytes) -> dict[str, Any]:
    """A request body that is one JSON object (an empty body is an empty object) passing the
    rule of every message (`json_problem`: depth, 64-bit integers, finite numbers, no lone
    surrogate); its size is checked while it is read (MAX_REQUEST_BYTES, 413)."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except RecursionError:
        raise DashboardInputError(f"body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise DashboardInputError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DashboardInputError(f"body must be a JSON object, got {type(data).__name__}")
    problem = json_problem(data)
    if problem is not None:
        raise DashboardInputError(f"body: {problem}")
    return data


def deadletter_filter(body: Mapping[str, Any]) -> DeadLetterFilter:
    """Which dead letters a redrive or purge applies to.

    At least one of `topic`, `error_class`, `ids`, `since`, `until` is needed, or `all: true`,
    so an empty body never touches every dead letter by accident. The types are checked here,
    the values by the rule `trendctl dlq` follows too (DeadLetterFilter.checked).
    """
    unknown = sorted(set(body) - {"topic", "error_class", "ids", "since", "until", "all"})
    if unknown:
        raise DashboardInputError(f"unknown field(s): {', '.join(unknown)}")
    every = body.get("all", False)
    if not isinstance(every, bool):
        raise DashboardInputError(
            f"all: expected true or false (all: true for every dead letter), got {every!r}"
        )
    where = _checked_filter(
        topic=_text(body, "topic"),
        error_class=_text(body, "error_class"),
        since=_time(body, "since"),
        until=_time(body, "until"),
        ids=_ids(body),
    )
    if where == DeadLetterFilter() and not every:
        raise DashboardInputError(
            "give topic, error_class, ids, since or until, or all: true for every dead letter"
        )
    return where


def deadletter_query(query: Mapping[str, str]) -> DeadLetterFilter:
    """The `topic` and `error_class` query parameters of the dead-letter list, checked."""
    return _checked_filter(
        topic=query.get("topic") or None, error_class=query.get("error_class") or None
    )


def _checked_filter(**conditions: Any) -> DeadLetterFilter:
    try:
        return DeadLetterFilter.checked(**conditions)
    except DeadLetterFilterError as exc:
        raise DashboardInputError(str(exc)) from None


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DashboardInputError(f"{key}: expected a string, got {type(value).__name__}")
    return value


def _time(body: Mapping[str, Any], key: str) -> float | None:
    """Epoch seconds, or an ISO 8601 time with a timezone."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed.timestamp()
        except (ValueError, OverflowError):
            pass
    raise DashboardInputError(f"{key}: expected epoch seconds or ISO 8601 with a timezone")


def _ids(body: Mapping[str, Any]) -> list[str]:
    value = body.get("ids", [])
    if not isinstance(value, list) or len(value) > MAX_IDS:
        raise DashboardInputError(f"ids: expected a list of at most {MAX_IDS} dead-letter ids")
    if not all(isinstance(item, str) for item in value):
        raise DashboardInputError("ids: each id is a string `<topic>.dlq:<partition>:<offset>`")
    return value
