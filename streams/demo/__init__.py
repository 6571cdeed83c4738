"""The offline demo: a week of items served by a local server in the shapes of the source APIs,
replayed through the running workers until it ends in trends (`python -m streams.demo`)."""

from streams.demo.apis import Reply, SourceApis
from streams.demo.replay import DemoStats, Progress, Replay, ReplayResult, demo_stats
from streams.demo.server import DemoServer, plugin_settings
from streams.demo.week import WEEK_FILE, DemoItem, Week

__all__ = [
    "WEEK_FILE",
    "DemoItem",
    "DemoServer",
    "DemoStats",
    "Progress",
    "Replay",
    "ReplayResult",
    "Reply",
    "SourceApis",
    "Week",
    "demo_stats",
    "plugin_settings",
]
