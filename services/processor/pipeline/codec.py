"""The saved form of the topics: one versioned JSON format, older formats migrated on read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import astuple, fields, is_dataclass
from datetime import datetime
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import numpy as np

from services.processor.pipeline.embed import Vectors, l2_normalize, pack_vector, unpack_vector
from services.processor.pipeline.topic import TopicState

__all__ = [
    "FORMAT",
    "ArchivedEntry",
    "decode_archived",
    "decode_state",
    "decode_topic",
    "encode_state",
    "encode_topic",
]

FORMAT = 2
"""The format of a saved topic (its "format" key) and of a saved state.

1: before this codec: no "format" key; a state's topics listed in order, each with its
   "position" or none (then the list's order is theirs); the oldest topics also lack
   "name_counts" and "representative_vector" (their fields' defaults then).
2: every topic with "format", a state with "format" and every topic with its "position".
"""

ArchivedEntry = tuple[str, Vectors, datetime]
"""(topic id, centroid, last active) of an archived topic."""

Coder = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def _same(value: Any) -> Any:
    return value


def _optional(coder: Coder) -> Coder:
    encode, decode = coder
    return (
        lambda value: None if value is None else encode(value),
        lambda value: decode(value) if value is not None else None,
    )


def _buckets(kind: type) -> Coder:
    """Per-bucket records (dict[int, a dataclass]): {"index": [its fields in order]}."""
    return (
        lambda value: {str(k): list(astuple(v)) for k, v in value.items()},
        lambda value: {int(k): kind(*v) for k, v in value.items()},
    )


_PLAIN: dict[Any, Coder] = {
    datetime: (datetime.isoformat, datetime.fromisoformat),
    int: (_same, int),
    float: (_same, float),
    str: (_same, _same),
}
"""Coders by a field's type."""

_GENERIC: dict[Any, Coder] = {
    np.ndarray: (pack_vector, unpack_vector),
    Counter: (dict, Counter),
    list: (list, list),
}
"""Coders by a field's generic type (Vectors, Counter[str], list[str])."""


def _coder(hint: Any) -> Coder:
    """How a field of this type is written to JSON and read back."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType) and NoneType in args and len(args) == 2:
        return _optional(_coder(next(arg for arg in args if arg is not NoneType)))
    if origin is dict and args[0] is int and isinstance(args[1], type) and is_dataclass(args[1]):
        return _buckets(args[1])
    coder = _PLAIN.get(hint) or _GENERIC.get(origin)
    if coder is None:
        raise TypeError(f"no JSON form for a TopicState field of type {hint!r}")
    return coder


def _saved_fields() -> dict[str, Coder]:
    hints = get_type_hints(TopicState)
    return {
        f.name: _coder(hints[f.name])
        for f in fields(TopicState)
        if f.init and f.metadata.get("saved", True)
    }


_FIELDS = _saved_fields()
"""Every saved field of TopicState with its coder, in declaration order."""


def encode_topic(topic: TopicState) -> dict[str, Any]:
    """A JSON-ready copy of a topic's state (every saved field, by name, and the format)."""
    saved = {name: encode(getattr(topic, name)) for name, (encode, _) in _FIELDS.items()}
    return {**saved, "format": FORMAT}


def decode_topic(data: dict[str, Any]) -> TopicState:
    """The topic saved by encode_topic, in this format or an older one (a field missing from
    an older row takes its default)."""
    if data.get("format", 1) > FORMAT:
        raise ValueError(f"topic saved in format {data['format']}, newer than {FORMAT}")
    found = {name: decode(data[name]) for name, (_, decode) in _FIELDS.items() if name in data}
    return TopicState(**found)


def encode_state(
    topics: Iterable[tuple[int, TopicState]], archived: Iterable[ArchivedEntry]
) -> dict[str, Any]:
    """A JSON-ready copy of every topic with its position, and of the archive's centroids."""
    return {
        "format": FORMAT,
        "topics": [{**encode_topic(topic), "position": n} for n, topic in topics],
        "archived": [
            {"topic_id": t, "vector_sum": pack_vector(v), "last_active": at.isoformat()}
            for t, v, at in archived
        ],
    }


def decode_state(state: dict[str, Any]) -> list[tuple[int, TopicState]]:
    """The topics of a saved state, each with its position, in position order."""
    if state.get("format", 1) > FORMAT:
        raise ValueError(f"state saved in format {state['format']}, newer than {FORMAT}")
    entries = _positioned(state["topics"])
    return [(entry["position"], decode_topic(entry)) for entry in entries]


def decode_archived(state: dict[str, Any]) -> list[ArchivedEntry]:
    """The archived topics of a saved state: (topic id, centroid, last active)."""
    return [
        (
            entry["topic_id"],
            l2_normalize(unpack_vector(entry["vector_sum"])),
            datetime.fromisoformat(entry["last_active"]),
        )
        for entry in state.get("archived", [])
    ]


def _positioned(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Format 1's topics, listed in order with or without positions, as format 2's: each
    with its position (its place in the list when it had none), sorted by it."""
    placed = [{"position": n, **entry} for n, entry in enumerate(entries)]
    return sorted(placed, key=lambda entry: entry["position"])
