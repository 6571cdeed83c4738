"""The plugin registry: built-ins and `trend_stream.plugins` entry points, chosen by settings."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from services.collector.plugins.base import COMMON_OPTIONS, Plugin, PluginInputError
from services.collector.plugins.file import FilePlugin
from services.collector.plugins.hackernews import HackerNewsPlugin
from services.collector.plugins.mastodon import MastodonPlugin
from services.collector.plugins.reddit import RedditPlugin
from services.collector.plugins.rss import RssPlugin
from streams.config import Settings
from streams.exceptions import UnknownPluginError
from streams.records import CollectRequest, is_request_id

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

    def check(self, request: CollectRequest, settings: Settings) -> None:
        """Refuse a request these plugins cannot run, before it runs: an unknown plugin or
        group (UnknownPluginError), unknown or malformed options (PluginInputError).

        A group's own options must be ones every plugin reads (COMMON_OPTIONS); a plugin's
        options go under `options.plugins.<name>`, and each child's are checked by its plugin.
        """
        request.check()  # one built in Python has not been through `parse`
        options = request.options
        if not self.is_group(request.plugin):
            plugin = self.get(request.plugin)
            if "plugins" in options:
                raise PluginInputError(f"{plugin.name}: option 'plugins' is for groups only")
            plugin.check_options(options, settings)
            return
        group, members = request.plugin, self.members(request.plugin)
        shared = {key: value for key, value in options.items() if key != "plugins"}
        not_common = sorted(set(shared) - COMMON_OPTIONS)
        if not_common:
            raise PluginInputError(
                f"{group}: option(s) {', '.join(not_common)} are not read by every plugin of "
                "the group; give them as options.plugins.<plugin>.<option>"
            )
        own: dict[str, object] = options.get("plugins") or {}
        strangers = sorted(set(own) - set(members))
        if strangers:
            raise PluginInputError(
                f"{group}: options.plugins names {', '.join(strangers)}, not among the "
                f"group's plugins ({', '.join(members) or 'none'})"
            )
        for name in members:
            if not is_request_id(f"{request.request_id}.{name}"):
                raise PluginInputError(
                    f"request_id: too long for a group request (its children are "
                    f"<request_id>.<plugin>, e.g. <request_id>.{name})"
                )
            child = own.get(name) or {}
            assert isinstance(child, dict)  # checked by CollectRequest
            self.get(name).check_options({**shared, **child}, settings)


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
