"""The processor's handles on catalog topics."""

from services.processor.app import app
from streams.messages.topics import (
    ITEMS_ENRICHED,
    ITEMS_RAW,
    PROCESS_REQUESTS,
    PROCESS_RESULTS,
    PROCESSING_REPORTS,
    TRENDS_UPDATES,
    faust_topic,
)

__all__ = [
    "enriched_topic",
    "items_topic",
    "job_results_topic",
    "jobs_topic",
    "reports_topic",
    "trends_topic",
]

items_topic = faust_topic(app, ITEMS_RAW, app.settings, raw=True)
enriched_topic = faust_topic(app, ITEMS_ENRICHED, app.settings, raw=True)
reports_topic = faust_topic(app, PROCESSING_REPORTS, app.settings)
trends_topic = faust_topic(app, TRENDS_UPDATES, app.settings)
jobs_topic = faust_topic(app, PROCESS_REQUESTS, app.settings, raw=True)
job_results_topic = faust_topic(app, PROCESS_RESULTS, app.settings)
