"""The processor's handles on catalog topics."""

from services.processor.app import app
from streams.topics import ITEMS_RAW, PROCESSING_REPORTS, faust_topic

__all__ = ["items_topic", "reports_topic"]

items_topic = faust_topic(app, ITEMS_RAW, app.settings, raw=True)
reports_topic = faust_topic(app, PROCESSING_REPORTS, app.settings)
