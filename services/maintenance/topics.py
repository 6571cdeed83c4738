"""The maintenance worker's handles on catalog topics."""

from services.maintenance.app import app
from streams.messages.topics import ALERTS, MAINTENANCE_REQUESTS, MAINTENANCE_RESULTS, faust_topic

__all__ = ["alerts_topic", "job_results_topic", "jobs_topic"]

alerts_topic = faust_topic(app, ALERTS, app.settings, raw=True)
jobs_topic = faust_topic(app, MAINTENANCE_REQUESTS, app.settings, raw=True)
job_results_topic = faust_topic(app, MAINTENANCE_RESULTS, app.settings)
