"""The processor's web views."""

from services.processor.app import app
from streams.web import add_health_view

__all__ = ["health"]

health = add_health_view(app)
