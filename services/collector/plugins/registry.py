"""The plugin registry: built-in plugins and those installed under `trend_stream.plugins`."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from services.collector.plugins.base import Plugin
from services.collector.plugins.file import FilePlugin
from streams.exceptions import UnknownPluginError

__all__ = ["ENTRY_POINT_GROUP", "PluginRegistry", "default_registry"]

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "trend_stream.plugins"
BUILTINS: tuple[type[Plugin], ...] = (FilePlugin,)


class PluginRegistry:
    """Plugins by name."""

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
            known = ", ".join(sorted(self._plugins)) or "none"
            raise UnknownPluginError(f"unknown plugin {name!r}; known plugins: {known}") from None

    def names(self) -> list[str]:
        """The registered plugin names, sorted."""
        return sorted(self._plugins)


def default_registry() -> PluginRegistry:
    """The built-ins plus every plugin found in the entry-point group."""
    registry = PluginRegistry([cls() for cls in BUILTINS])
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            registry.register(entry.load()())
        except Exception:
            log.exception("plugin could not be loaded entry_point=%s", entry.name)
    return registry
