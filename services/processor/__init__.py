"""The processor service: consumes raw items and runs the trend pipeline."""

from services.processor.app import app

__all__ = ["app"]
