"""The maintenance worker's commands (`faust -A services.maintenance <command>`)."""

from __future__ import annotations

from services.maintenance.app import app
from streams.messages.topics import ensure_topics

__all__ = ["topics"]


@app.command()
async def topics() -> None:
    """Create missing catalog topics and verify the partition counts of the others."""
    report = await ensure_topics(app.settings)
    print(report.summary())
