"""The maintenance worker's handles on catalog topics."""

from services.maintenance.app import app
from streams.topics import ALERTS, faust_topic

__all__ = ["alerts_topic"]

alerts_topic = faust_topic(app, ALERTS, app.settings, raw=True)
