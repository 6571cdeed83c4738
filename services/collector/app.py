"""The collector's Faust app (`faust -A services.collector worker`)."""

from streams.servers.app import create_app

__all__ = ["app"]

app = create_app("collector")
