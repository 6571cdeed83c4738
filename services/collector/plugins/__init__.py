"""Source plugins: the interface, the registry and the built-in plugins."""

from services.collector.plugins.base import Plugin, PluginContext, PluginError, PluginInputError
from services.collector.plugins.registry import PluginRegistry, default_registry

__all__ = [
    "Plugin",
    "PluginContext",
    "PluginError",
    "PluginInputError",
    "PluginRegistry",
    "default_registry",
]
