"""The plugin interface every source implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from streams.config import Settings
from streams.exceptions import TrendStreamError
from streams.records import RawItem

__all__ = ["Plugin", "PluginContext", "PluginError"]


class PluginError(TrendStreamError):
    """A plugin run failed: bad options, unreachable source or malformed payload."""


@dataclass(frozen=True)
class PluginContext:
    """What a plugin run gets besides its options."""

    request_id: str
    settings: Settings
    dry_run: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


class Plugin:
    """A source: `collect` yields the items of one run."""

    name: ClassVar[str]
    frequency: ClassVar[Literal["high", "normal"]] = "normal"
    default_options: ClassVar[Mapping[str, Any]] = {}

    def options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults overlaid with the request's options."""
        return {**self.default_options, **given}

    def collect(self, ctx: PluginContext, options: Mapping[str, Any]) -> AsyncIterator[RawItem]:
        """Yield the items of one run; raise PluginError on a failure."""
        raise NotImplementedError
