"""The maintenance service: health, cleanup, backups and consumer-lag monitoring."""

from services.maintenance.app import app

__all__ = ["app"]
