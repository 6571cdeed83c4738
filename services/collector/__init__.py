"""The collector service: answers collect requests and publishes raw items."""

from services.collector.app import app

__all__ = ["app"]
