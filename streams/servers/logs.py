"""Log lines in one key=value format, carrying topic, partition, offset and request id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

__all__ = ["CONTEXT_KEYS", "KeyValueFormatter", "event_context", "logging_config"]

CONTEXT_KEYS = ("topic", "partition", "offset", "request_id")


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(ch in text for ch in ' "=\n\t'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class KeyValueFormatter(logging.Formatter):
    """`ts=... level=... service=... logger=... msg="..." topic=... partition=... offset=...`."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        pairs = [("ts", ts.replace("+00:00", "Z")), ("level", record.levelname)]
        if self.service:
            pairs.append(("service", self.service))
        pairs += [("logger", record.name), ("msg", record.getMessage())]
        pairs += [(key, getattr(record, key)) for key in CONTEXT_KEYS if hasattr(record, key)]
        line = " ".join(f"{key}={_quote(value)}" for key, value in pairs)
        if record.exc_info:
            line += " exc=" + _quote(self.formatException(record.exc_info))
        return line


def event_context(event: Any, request_id: str | None = None) -> dict[str, Any]:
    """The `extra` of a log call about one Faust event: its topic, partition and offset."""
    message = event.message
    context: dict[str, Any] = {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
    }
    if request_id:
        context["request_id"] = request_id
    return context


def logging_config(service: str, level: str) -> dict[str, Any]:
    """A logging.config.dictConfig for a worker: everything to stderr as key=value lines."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"kv": {"()": KeyValueFormatter, "service": service}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "kv"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {"aiokafka": {"level": "WARNING"}, "faust": {"level": level}},
    }
