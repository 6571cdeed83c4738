"""The plugin registry: the catalog's built-ins and `trend_stream.plugins` entry points, chosen
by settings."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points

from services.collector.plugins.base import COMMON_OPTIONS, Plugin, PluginInputError
from streams import catalog
from streams.config import Settings
from streams.exceptions import UnknownPluginError
from streams.messages.records import CollectRequest, is_request_id

__all__ = ["PluginRegistry", "builtin_plugins", "default_registry"]

log = logging.getLogger(__name__)


class PluginRegistry:
    """The enabled plugins by name, and the groups they form."""

    def __init__(self, plugins: list[Plugin] | None = None) -> None:
        self._plugins = {plugin.name: plugin for plugin in plugins or []}

    def get(self, name: str) -> Plugin:
        """The plugin of that name; UnknownPluginError lists the known ones."""
        try:
            return self._plugins[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            groups = ", ".join(catalog.group_names())
            raise UnknownPluginError(
                f"unknown plugin {name!r}; known plugins: {known}; groups: {groups}"
            ) from None

    def names(self) -> list[str]:
        """The registered plugin names, sorted."""
        return sorted(self._plugins)

    @staticmethod
    def is_group(name: str) -> bool:
        """True for a group of the catalog (`all`, `high_frequency`)."""
        return catalog.group(name) is not None

    def members(self, group: str) -> list[str]:
        """The plugins a group fans out to: those that join groups, of its frequency if it has
        one (none for a name that is not a group)."""
        found = catalog.group(group)
        if found is None:
            return []
        return sorted(
            plugin.name
            for plugin in self._plugins.values()
            if plugin.groupable and found.frequency in (None, plugin.frequency)
        )

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


def builtin_plugins() -> list[Plugin]:
    """The catalog's built-in plugins, each loaded from its `module:Class`."""
    found = []
    for builtin in catalog.BUILTIN_PLUGINS:
        plugin: Plugin = EntryPoint(builtin.name, builtin.target, "builtin").load()()
        if plugin.name != builtin.name:
            raise TypeError(f"{builtin.target} is plugin {plugin.name!r}, not {builtin.name!r}")
        found.append(plugin)
    return found


def _discovered() -> list[Plugin]:
    found = []
    for entry in entry_points(group=catalog.PLUGIN_ENTRY_POINTS):
        try:
            found.append(entry.load()())
        except Exception:
            log.exception("plugin could not be loaded entry_point=%s", entry.name)
    return found


def default_registry(settings: Settings) -> PluginRegistry:
    """The built-ins plus entry-point plugins, filtered by PLUGINS_ENABLED / PLUGINS_DISABLED."""
    plugins = builtin_plugins() + _discovered()
    enabled = set(settings.plugins_enabled)
    disabled = set(settings.plugins_disabled)
    return PluginRegistry(
        [p for p in plugins if (not enabled or p.name in enabled) and p.name not in disabled]
    )
