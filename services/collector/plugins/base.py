"""The plugin interface every source implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from streams.config import Settings
from streams.exceptions import TrendStreamError
from streams.records import RawItem

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from services.collector.http import SourceHttp

__all__ = ["Plugin", "PluginContext", "PluginError"]


class PluginError(TrendStreamError):
    """A plugin run failed: bad options, unreachable source or malformed payload."""


@dataclass(frozen=True)
class PluginContext:
    """What a plugin run gets besides its options."""

    request_id: str
    settings: Settings
    dry_run: bool = False
    http_client: SourceHttp | None = None
    """The run's HTTP client (rate limit, retries, concurrency); None for plugins without HTTP."""
    redis: Redis | None = None
    """Shared state across workers (e.g. RSS validators); None when Redis is not wired in."""

    @property
    def http(self) -> SourceHttp:
        """The run's HTTP client; PluginError if the run was started without one."""
        if self.http_client is None:
            raise PluginError("this plugin needs HTTP, but the run has no HTTP client")
        return self.http_client


class Plugin:
    """A source: `collect` yields the items of one run."""

    name: ClassVar[str]
    frequency: ClassVar[Literal["high", "normal"]] = "normal"
    default_options: ClassVar[Mapping[str, Any]] = {}
    groupable: ClassVar[bool] = True
    """False: left out of the `all` and `high_frequency` groups (needs options of its own)."""
    uses_http: ClassVar[bool] = True

    def options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults overlaid with the request's options."""
        return {**self.default_options, **given}

    def collect(self, ctx: PluginContext, options: Mapping[str, Any]) -> AsyncIterator[RawItem]:
        """Yield the items of one run; raise PluginError on a failure."""
        raise NotImplementedError
