"""Errors of the collector service."""

from __future__ import annotations

from streams.decoding import RequestTooLargeError
from streams.exceptions import TrendStreamError
from streams.limits import RevokedError

__all__ = ["CollectorError", "RequestRevokedError", "RequestTooLargeError"]


class CollectorError(TrendStreamError):
    """Base of the collector's own errors."""


class RequestRevokedError(CollectorError, RevokedError):
    """The request was revoked (cancelled) before or while it ran."""
