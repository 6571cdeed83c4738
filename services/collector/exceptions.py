"""Errors of the collector service."""

from __future__ import annotations

from streams.exceptions import TrendStreamError
from streams.reliability.decoding import RequestTooLargeError

__all__ = ["CollectorError", "RequestTooLargeError"]


class CollectorError(TrendStreamError):
    """Base of the collector's own errors."""
