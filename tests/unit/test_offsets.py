"""Reading a group's committed offsets waits out a coordinator that is still loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError

from streams.operations import offsets
from streams.operations.offsets import _committed

LOADING, DENIED = 14, 30


@dataclass
class _Response:
    error_code: int = 0
    topics: list[Any] = field(default_factory=list)


class _Admin:
    """Answers OffsetFetch with the queued responses, one per request."""

    def __init__(self, *responses: _Response) -> None:
        self.responses = list(responses)
        self.sent = 0

    async def find_coordinator(self, group: str) -> int:
        return 1

    async def _send_request(self, request: object, node: int) -> _Response:
        self.sent += 1
        return self.responses.pop(0)


_COMMITTED = _Response(topics=[("t", [(0, 5, "", 0), (1, -1, "", 0)])])


async def test_a_loading_coordinator_is_asked_again_not_read_as_no_offsets() -> None:
    admin = _Admin(_Response(error_code=LOADING), _COMMITTED)
    assert await _committed(admin, "g") == {TopicPartition("t", 0): 5}  # type: ignore[arg-type]
    assert admin.sent == 2


async def test_a_refusal_is_raised_at_once() -> None:
    admin = _Admin(_Response(error_code=DENIED), _COMMITTED)
    with pytest.raises(GroupAuthorizationFailedError):
        await _committed(admin, "g")  # type: ignore[arg-type]
    assert admin.sent == 1


async def test_a_coordinator_loading_past_the_deadline_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(offsets, "COORDINATOR_WAIT_S", 0.0)
    admin = _Admin(_Response(error_code=LOADING), _Response(error_code=LOADING))
    with pytest.raises(Exception, match="offsets of group g"):
        await _committed(admin, "g")  # type: ignore[arg-type]
