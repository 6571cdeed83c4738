"""The plugin registry: built-ins and `trend_stream.plugins` entry points, chosen by settings."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from services.collector.plugins.base import Plugin
from services.collector.plugins.file import FilePlugin
from services.collector.plugins.hackernews import HackerNewsPlugin
from services.collector.plugins.mastodon import MastodonPlugin
from services.collector.plugins.reddit import RedditPlugin
from services.collector.plugins.rss import RssPlugin
from streams.config import Settings
from streams.exceptions import UnknownPluginError

__all__ = ["BUILTINS", "ENTRY_POINT_GROUP", "GROUPS", "PluginRegistry", "default_registry"]

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "trend_stream.plugins"
BUILTINS: tuple[type[Plugin], ...] = (
    HackerNewsPlugin,
    RedditPlugin,
    RssPlugin,
    MastodonPlugin,
    FilePlugin,
)
GROUPS = ("all", "high_frequency")
"""`all`: every enabled groupable plugin; `high_frequency`: those of frequency "high"."""


class PluginRegistry:
    """The enabled plugins by name, and the groups they form."""

    def __init__(self, plugins: list[Plugin] | None = None) -> None:
        self._plugins = {plugin.name: plugin for plugin in plugins or []}

    def register(self, plugin: Plugin) -> None:
        """Add a plugin; a second plugin of the same name replaces the first."""
        self._plugins[plugin.name] = plugin

    def get(self, name: str) -> Plugin:
        """The plugin of that name; UnknownPluginError lists the known ones."""
        try:
            return self._plugins[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UnknownPluginError(
                f"unknown plugin {name!r}; known plugins: {known}; groups: {', '.join(GROUPS)}"
            ) from None

    def names(self) -> list[str]:
        """The registered plugin names, sorted."""
        return sorted(self._plugins)

    @staticmethod
    def is_group(name: str) -> bool:
        """True for a group name (`all`, `high_frequency`)."""
        return name in GROUPS

    def members(self, group: str) -> list[str]:
        """The plugins a group fans out to."""
        plugins = [p for p in self._plugins.values() if p.groupable]
        if group == "high_frequency":
            plugins = [p for p in plugins if p.frequency == "high"]
        return sorted(p.name for p in plugins)


def _discovered() -> list[Plugin]:
    found = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append(entry.load()())
        except Exception:
            log.exception("plugin could not be loaded entry_point=%s", entry.name)
    return found


def default_registry(settings: Settings) -> PluginRegistry:
    """The built-ins plus entry-point plugins, filtered by PLUGINS_ENABLED / PLUGINS_DISABLED."""
    plugins = [cls() for cls in BUILTINS] + _discovered()
    enabled = set(settings.plugins_enabled)
    disabled = set(settings.plugins_disabled)
    return PluginRegistry(
        [p for p in plugins if (not enabled or p.name in enabled) and p.name not in disabled]
    )
