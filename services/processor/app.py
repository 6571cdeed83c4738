"""The processor's Faust app (`faust -A services.processor worker`)."""

from services.processor.resources import pipeline_config
from streams.exceptions import ConfigurationError
from streams.servers.app import create_app

__all__ = ["PIPELINE", "app"]

app = create_app("processor")
try:
    PIPELINE = pipeline_config(app.settings)
except ConfigurationError as exc:
    raise SystemExit(f"trend-stream: {exc}") from None
