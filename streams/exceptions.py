"""The exception hierarchy shared by every trend-stream service."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "MigrationError",
    "RecordValidationError",
    "TopicMismatchError",
    "TrendStreamError",
    "UnknownPluginError",
]


class TrendStreamError(Exception):
    """Base class of every error raised by trend-stream."""


class ConfigurationError(TrendStreamError):
    """A setting (environment variable) has a bad value."""


class RecordValidationError(TrendStreamError):
    """A message payload is not a valid record (bad JSON, missing or wrongly typed fields)."""


class TopicMismatchError(TrendStreamError):
    """A topic on the broker differs from the catalog (for example its partition count)."""


class MigrationError(TrendStreamError):
    """A database migration could not be applied."""


class UnknownPluginError(TrendStreamError):
    """A collect request names a plugin or group that does not exist."""
