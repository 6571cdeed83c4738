"""Where maintenance jobs send their alerts, and how an alert reads in a log line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from streams.messages.records import Alert

__all__ = ["AlertSink", "describe"]

AlertSink = Callable[[Alert], Awaitable[None]]
"""Publishes one alert (the alerts topic in a worker, a list in tests)."""


def describe(alert: Alert) -> str:
    """`source=... subject=... severity=... state=... previous=... "message"` for a log line."""
    return (
        f"source={alert.source} subject={alert.subject} severity={alert.severity.value} "
        f"state={alert.state or '-'} previous={alert.previous_state or '-'} {alert.message}"
    )
