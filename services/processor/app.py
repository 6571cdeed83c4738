"""The processor's Faust app (`faust -A services.processor worker`)."""

from streams.app import create_app

__all__ = ["app"]

app = create_app("processor")
