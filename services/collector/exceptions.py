"""Errors of the collector service."""

from __future__ import annotations

from streams.decoding import RequestTooLargeError
from streams.exceptions import TrendStreamError

__all__ = ["CollectorError", "RequestTooLargeError"]


class CollectorError(TrendStreamError):
    """Base of the collector's own errors."""
