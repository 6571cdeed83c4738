"""Log lines: one key=value format with topic, partition, offset and request id."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from streams.servers.logs import KeyValueFormatter, event_context


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("svc.mod", logging.INFO, __file__, 1, msg, (), None)
    record.__dict__.update(extra)
    return record


def test_context_fields_follow_the_message() -> None:
    event = SimpleNamespace(message=SimpleNamespace(topic="items.raw", partition=3, offset=42))
    line = KeyValueFormatter("processor").format(
        _record("items stored", **event_context(event, request_id="r1"))
    )
    assert line.split(" ", 1)[1] == (
        'level=INFO service=processor logger=svc.mod msg="items stored" '
        "topic=items.raw partition=3 offset=42 request_id=r1"
    )
    assert line.startswith("ts=") and line.split(" ", 1)[0].endswith("Z")


def test_values_with_spaces_quotes_and_newlines_are_quoted() -> None:
    line = KeyValueFormatter().format(_record('say "hi"\nnow'))
    assert 'msg="say \\"hi\\"\\nnow"' in line
    assert "\n" not in line
