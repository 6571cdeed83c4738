"""The maintenance worker's web views."""

from services.maintenance.app import app
from streams.web import add_health_view, add_metrics_view

__all__ = ["health", "metrics"]

health = add_health_view(app)
metrics = add_metrics_view(app)
