"""The maintenance worker's Faust app (`faust -A services.maintenance worker`)."""

from streams.servers.app import create_app

__all__ = ["app"]

app = create_app("maintenance")
