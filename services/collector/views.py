"""The collector's web views."""

from services.collector.app import app
from streams.web import add_health_view

__all__ = ["health"]

health = add_health_view(app)
