"""Typed records from raw messages: an invalid one is dead-lettered with the reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from streams.exceptions import RecordValidationError
from streams.messages.delivery import Delivery, Failure
from streams.messages.records import StreamRecord, is_request_id
from streams.reliability.retry import Decision, Guard, Rejected

__all__ = [
    "RequestTooLargeError",
    "check_size",
    "consume_records",
    "fallback_request_id",
    "message_key",
    "parse",
    "parse_request",
    "valid_deliveries",
]

R = TypeVar("R", bound=StreamRecord)


class RequestTooLargeError(RecordValidationError):
    """A request is larger than MAX_REQUEST_BYTES (bad input: never retried)."""


def check_size(payload: bytes | None, max_bytes: int) -> None:
    """RequestTooLargeError when the payload is over `max_bytes` (MAX_REQUEST_BYTES)."""
    if payload is not None and len(payload) > max_bytes:
        raise RequestTooLargeError(
            f"request payload is {len(payload):,} bytes; MAX_REQUEST_BYTES is {max_bytes:,}"
        )


def parse_request(
    kind: type[R], payload: bytes | None, max_bytes: int, key: str | None = None
) -> R:
    """A request of any request topic (collect, process, maintenance) or HTTP body, with the
    same limits everywhere: MAX_REQUEST_BYTES, then the record's strict parsing and checks.

    A missing request_id is taken from the message key. Raises RequestTooLargeError or
    RecordValidationError.
    """
    check_size(payload, max_bytes)
    return kind.parse(payload, {"request_id": key} if key else None)


async def consume_records(
    stream: Any, kind: type[R], guard: Guard, handle: Callable[[R], Awaitable[None]]
) -> None:
    """Handle each message of a raw stream as a `kind` record, under `guard`.

    An invalid message is dead-lettered at once; a failure is retried or dead-lettered by the
    guard's policy for the topic; an outage is waited out.
    """

    async def typed(deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            try:
                record = parse(delivery, kind, guard.settings.max_request_bytes)
            except RecordValidationError as exc:
                raise Rejected(Failure.of(exc), Decision("dead", delivery.attempt + 1)) from exc
            await handle(record)

    async for event in stream.events():
        await guard.handle([Delivery.of_message(event.message)], typed)


def parse(delivery: Delivery, kind: type[R], max_bytes: int) -> R:
    """The delivery's value as a `kind` record; RecordValidationError when invalid or too large."""
    size = len(delivery.value or b"")
    if size > max_bytes:
        raise RecordValidationError(f"message is {size:,} bytes; the limit is {max_bytes:,}")
    return kind.parse(delivery.value)


async def valid_deliveries(
    deliveries: list[Delivery], kind: type[R], guard: Guard
) -> list[Delivery]:
    """The deliveries that parse as `kind`; each other one is dead-lettered with the reason."""
    valid = []
    for delivery in deliveries:
        try:
            parse(delivery, kind, guard.settings.max_request_bytes)
        except RecordValidationError as exc:
            await guard.reject(delivery, Failure.of(exc))
        else:
            valid.append(delivery)
    return valid


def message_key(message: Any) -> str | None:
    """The message key as text, or None."""
    key = message.key
    if isinstance(key, bytes):
        key = key.decode("utf-8", errors="replace")
    return key or None


def fallback_request_id(message: Any) -> str:
    """The id a malformed request is answered under: its key when the key is a valid request
    id, else where it was read (`invalid-<topic>-<partition>-<offset>`)."""
    key = message_key(message)
    if key is not None and is_request_id(key):
        return key
    return f"invalid-{message.topic}-{message.partition}-{message.offset}"
