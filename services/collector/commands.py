"""The collector's worker commands (`faust -A services.collector <command>`)."""

from __future__ import annotations

from services.collector.agents import runner
from services.collector.app import app

__all__ = ["plugins"]


@app.command()
async def plugins() -> None:
    """List the plugins this collector can run."""
    for name in runner.registry.names():
        print(name)
