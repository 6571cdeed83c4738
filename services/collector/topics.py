"""The collector's handles on catalog topics."""

from services.collector.app import app
from streams.messages.topics import (
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    COLLECT_RESULTS,
    CONTROL,
    ITEMS_RAW,
    PROCESSING_REPORTS,
    faust_topic,
)

__all__ = [
    "control_topic",
    "items_topic",
    "priority_topic",
    "reports_topic",
    "requests_topic",
    "results_topic",
]

requests_topic = faust_topic(app, COLLECT_REQUESTS, app.settings, raw=True)
priority_topic = faust_topic(app, COLLECT_REQUESTS_PRIORITY, app.settings, raw=True)
results_topic = faust_topic(app, COLLECT_RESULTS, app.settings)
items_topic = faust_topic(app, ITEMS_RAW, app.settings)
control_topic = faust_topic(app, CONTROL, app.settings, raw=True)
reports_topic = faust_topic(app, PROCESSING_REPORTS, app.settings, raw=True)
