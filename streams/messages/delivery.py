"""One consumed message as the retry machinery sees it: where it was read, its bytes and history."""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["HEADER", "Delivery", "Failure", "header_items"]

HEADER = "ts-"
"""Prefix of every header trend-stream adds to a message it retries or dead-letters."""
MAX_TRACEBACK = 8_000


def header_items(
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None,
) -> dict[str, bytes]:
    """Headers as a dict of name to bytes, whatever shape the client gave them in."""
    if not headers:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {str(name): bytes(value or b"") for name, value in pairs}


@dataclass(frozen=True)
class Failure:
    """Why a message failed: the error's class, message and traceback, as text."""

    error_class: str
    message: str
    traceback: str = ""
    at: float = field(default_factory=time.time)

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """The failure of an exception (with its traceback when it was raised)."""
        text = "".join(traceback.format_exception(exc))[-MAX_TRACEBACK:]
        return cls(type(exc).__name__, str(exc) or repr(exc), text)

    def brief(self) -> dict[str, Any]:
        """The failure as one entry of a message's history (no traceback)."""
        return {"error": self.error_class, "message": self.message[:500], "at": self.at}


@dataclass(frozen=True)
class Delivery:
    """A message read from a topic (or handed back from a retry topic), with its headers.

    `topic`, `partition` and `offset` are where the message was first read; `attempt` counts
    the failures behind it (0 on a first delivery).
    """

    topic: str
    partition: int
    offset: int
    timestamp: float
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes] = field(default_factory=dict)
    read_from: str = ""
    """The topic it was actually read from (a retry topic, or `topic`)."""

    @classmethod
    def of_message(cls, message: Any) -> Delivery:
        """A Delivery from a Faust message or an aiokafka ConsumerRecord (timestamp in ms or s)."""
        timestamp = float(message.timestamp or 0)
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp=timestamp / 1000 if timestamp > 1e11 else timestamp,
            key=message.key,
            value=message.value,
            headers=header_items(message.headers),
            read_from=message.topic,
        )

    def handed_back(self, read_from: str, origin: str | None = None) -> Delivery:
        """This delivery as read again from a retry topic (or a dead-letter topic): its topic
        is `origin`, the topic that retry topic serves (None: the header's); its partition,
        offset and timestamp come from the headers (a message without them, or with malformed
        ones, keeps where it was read)."""
        return replace(
            self,
            topic=origin or self.text("original-topic") or self.topic,
            partition=int(self.number("original-partition", self.partition)),
            offset=int(self.number("original-offset", self.offset)),
            timestamp=self.number("original-timestamp", self.timestamp),
            read_from=read_from,
        )

    def text(self, name: str) -> str:
        """One of our headers (without its prefix) as text, or ''."""
        return self.headers.get(HEADER + name, b"").decode("utf-8", errors="replace")

    def number(self, name: str, default: float) -> float:
        """One of our headers as a number; `default` when missing or not a finite number."""
        try:
            value = float(self.text(name))
        except ValueError:
            return default
        return value if math.isfinite(value) else default

    @property
    def attempt(self) -> int:
        """How many times this message failed in the current round of retries."""
        return max(0, int(self.number("attempt", 0)))

    @property
    def due(self) -> float:
        """When a retried message may run again (epoch seconds; 0 when not delayed)."""
        return self.number("due", 0.0)

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every failure behind this message, across retries and redrives."""
        raw = self.text("history")
        try:
            entries = json.loads(raw) if raw else []
        except ValueError:
            return []
        return entries if isinstance(entries, list) else []

    @property
    def key_text(self) -> str | None:
        """The key as text, or None."""
        return self.key.decode("utf-8", errors="replace") if self.key else None

    @property
    def where(self) -> dict[str, Any]:
        """Log context: topic, partition and offset of the original message."""
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}

    def failed_headers(
        self, failure: Failure, attempt: int, **extra: str
    ) -> list[tuple[str, bytes]]:
        """The headers of this message after `failure`, its `attempt`-th in this round."""
        first = self.text("first-failure") or str(failure.at)
        ours = {
            "attempt": str(attempt),
            "first-failure": first,
            "error-class": failure.error_class,
            "error-message": failure.message[:2_000],
            "original-topic": self.topic,
            "original-partition": str(self.partition),
            "original-offset": str(self.offset),
            "original-timestamp": str(self.timestamp),
            "history": json.dumps([*self.history, failure.brief()]),
            **extra,
        }
        kept = dict(self.headers)
        kept.update({HEADER + k: v.encode() for k, v in ours.items()})
        return list(kept.items())
