"""Reading `trendctl`'s arguments: the --json option, `KEY=VALUE`, times, states, filters."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Annotated

import typer

from streams.messages.records import RequestState, utcnow
from streams.messages.topics import CATALOG, TopicSpec
from streams.reliability.deadletter import DeadLetterFilter, DeadLetterFilterError

__all__ = [
    "AsJson",
    "BadInputError",
    "catalog_topic",
    "dead_letter_filter",
    "parse_options",
    "parse_states",
    "parse_time",
]

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
"""The `--json` option of every command that prints a table."""

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class BadInputError(ValueError):
    """An argument `trendctl` cannot use; the message says which and why."""


def parse_options(pairs: list[str]) -> dict[str, object]:
    """`KEY=VALUE` pairs to a dict; a value is JSON when it parses as JSON, else text.

    Dotted keys nest: `plugins.rss.limit=5` gives `{"plugins": {"rss": {"limit": 5}}}`.
    """
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise BadInputError(f"--option: expected KEY=VALUE, got {pair!r}")
        _put(options, key.split("."), _value(raw))
    return options


def _value(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _put(options: dict[str, object], path: list[str], value: object) -> None:
    node = options
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise BadInputError(f"--option: {'.'.join(path)} conflicts with {part}={child!r}")
        node = child
    node[path[-1]] = value


def parse_time(text: str, now: datetime | None = None) -> float:
    """Epoch seconds of an ISO 8601 time (with a timezone; naive means UTC), of epoch seconds,
    or of a duration ago (`30s`, `15m`, `2h`, `1d`, `1w`)."""
    value = text.strip()
    match = _AGO.match(value.lower())
    if match:
        ago = float(match.group(1)) * _UNITS[match.group(2)]
        return ((now or utcnow()) - timedelta(seconds=ago)).timestamp()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(
            f"bad time {text!r}: use ISO 8601 (2026-01-31T12:00:00Z), epoch seconds or an age "
            "like 30m, 2h, 1d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=utcnow().tzinfo)
    return moment.timestamp()


def parse_states(text: str | None) -> str | None:
    """A comma-separated list of request states, checked and upper-cased (None: any state)."""
    if not text:
        return None
    try:
        return ",".join(RequestState.parse_many(text))
    except ValueError as exc:
        raise BadInputError(str(exc)) from None


def dead_letter_filter(
    topic: str | None = None,
    error: str | None = None,
    since: str | None = None,
    until: str | None = None,
    ids: list[str] | None = None,
) -> DeadLetterFilter:
    """The dead letters an operation applies to, checked by the dashboard's rule too
    (DeadLetterFilter.checked); `topic` is an original catalog topic."""
    try:
        return DeadLetterFilter.checked(
            topic=topic,
            error_class=error or None,
            since=parse_time(since) if since else None,
            until=parse_time(until) if until else None,
            ids=ids or (),
        )
    except DeadLetterFilterError as exc:
        raise BadInputError(str(exc)) from None


def catalog_topic(name: str, namespace: str = "") -> TopicSpec:
    """The catalog topic of this name (with or without NAMESPACE); BadInputError otherwise."""
    plain = name.removeprefix(namespace) if namespace else name
    for spec in CATALOG:
        if spec.name == plain:
            return spec
    raise BadInputError(f"{name!r} is not a catalog topic (see `trendctl purge --help`)")
