"""Typed records from raw topic events: an invalid one is logged with where it was, and skipped."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from streams.exceptions import RecordValidationError
from streams.logs import event_context
from streams.records import StreamRecord

__all__ = ["decode", "decoded", "fallback_request_id", "message_key"]

log = logging.getLogger(__name__)
R = TypeVar("R", bound=StreamRecord)


def decode(event: Any, kind: type[R]) -> R | None:
    """The event's value as a `kind` record, or None (logged) when it is not a valid one."""
    try:
        return kind.parse(event.value)
    except RecordValidationError as exc:
        log.error("message rejected: %s", exc, extra=event_context(event))  # noqa: TRY400
        return None


async def decoded(stream: Any, kind: type[R]) -> AsyncIterator[tuple[Any, R]]:
    """(event, record) for each valid message of a raw stream; invalid ones are skipped."""
    async for event in stream.events():
        record = decode(event, kind)
        if record is not None:
            yield event, record


def message_key(message: Any) -> str | None:
    """The message key as text, or None."""
    key = message.key
    if isinstance(key, bytes):
        key = key.decode("utf-8", errors="replace")
    return key or None


def fallback_request_id(message: Any) -> str:
    """The id a malformed request is answered under: its key, or where it was read."""
    return message_key(message) or f"invalid-{message.topic}-{message.partition}-{message.offset}"
