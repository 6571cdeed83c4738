"""Property: whatever arrives on a request topic, parsing raises only the validation error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.exceptions import RecordValidationError
from streams.messages.records import CollectRequest, ControlCommand, RawItem

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
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
        "__faust",
        "unknown",
    ]
)
NEAR_VALID = st.dictionaries(FIELDS, JSON_VALUES, max_size=8)
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    NEAR_VALID.map(lambda value: json.dumps(value).encode()),
)


def _parse_or_refuse(kind: type[Any], payload: bytes) -> None:
    try:
        record = kind.parse(payload)
    except RecordValidationError as exc:
        assert str(exc).startswith(f"invalid {kind.__name__}: ")
    else:
        assert isinstance(record, kind)
        assert kind.parse(record.dumps()) == record


@settings(max_examples=300, deadline=None)
@given(PAYLOADS)
def test_any_payload_parses_or_raises_the_validation_error(payload: bytes) -> None:
    _parse_or_refuse(CollectRequest, payload)


@settings(max_examples=100, deadline=None)
@given(PAYLOADS)
def test_other_records_too(payload: bytes) -> None:
    _parse_or_refuse(RawItem, payload)
    _parse_or_refuse(ControlCommand, payload)
