"""The plugin interface every source implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from streams.config import Settings
from streams.exceptions import RecordValidationError, TrendStreamError
from streams.messages.records import COLLECT_OPTIONS, RawItem

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from services.collector.http import SourceHttp

__all__ = ["COMMON_OPTIONS", "Plugin", "PluginContext", "PluginError", "PluginInputError"]

COMMON_OPTIONS = COLLECT_OPTIONS - {"plugins"}
"""Options every plugin accepts (the collector applies them): limit, since, sample_size."""


class PluginError(TrendStreamError):
    """A plugin run failed: unreachable source or malformed payload (retried per policy)."""


class PluginInputError(PluginError, RecordValidationError):
    """The request cannot succeed as given (bad or unknown options, a missing or malformed
    input file): refused at the door, or dead-lettered at once, never retried."""


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
    option_names: ClassVar[frozenset[str] | None] = None
    """The plugin's own options, besides COMMON_OPTIONS; None (a plugin that does not declare
    them): any option is accepted."""

    def options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults overlaid with the request's options."""
        return {**self.default_options, **given}

    def check_options(self, given: Mapping[str, Any], settings: Settings) -> None:
        """Refuse unknown and malformed options before a run (PluginInputError naming them)."""
        if self.option_names is not None:
            unknown = sorted(set(given) - self.option_names - COMMON_OPTIONS)
            if unknown:
                known = ", ".join(sorted(self.option_names | COMMON_OPTIONS))
                raise PluginInputError(
                    f"{self.name}: unknown option(s) {', '.join(unknown)}; options: {known}"
                )
        self.read_options(self.options(given), settings)

    def read_options(self, options: Mapping[str, Any], settings: Settings) -> object:
        """The plugin's own options, parsed; PluginInputError when one is malformed.

        `collect` reads its options through this too, so a check at the door and the run agree.
        """
        return None

    def collect(self, ctx: PluginContext, options: Mapping[str, Any]) -> AsyncIterator[RawItem]:
        """Yield the items of one run; raise PluginError on a failure."""
        raise NotImplementedError
