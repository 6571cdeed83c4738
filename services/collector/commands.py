"""The collector's worker commands (`faust -A services.collector <command>`)."""

from __future__ import annotations

from services.collector.app import app
from services.collector.plugins import default_registry

__all__ = ["plugins"]


@app.command()
async def plugins() -> None:
    """List the enabled plugins, with their frequency."""
    registry = default_registry(app.settings)
    for name in registry.names():
        plugin = registry.get(name)
        groups = "groups" if plugin.groupable else "alone"
        print(f"{name:<12} {plugin.frequency:<7} {groups}")
