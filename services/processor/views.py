"""The processor's web views."""

from services.processor.app import app
from streams.servers.web import add_health_view, add_metrics_view

__all__ = ["health", "metrics"]

health = add_health_view(app)
metrics = add_metrics_view(app)
